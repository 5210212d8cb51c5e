"""Job titles to seniority and department: a keyword table, first match wins.

Abbreviations are matched as whole words so "CTO" does not match "director" and "VP" does not
match "MVP". The table lists the most senior level first, so "VP Engineering Manager" is a VP.
"""

from __future__ import annotations

import re

from bridge.enrichment.derive import Derived

SENIORITY: tuple[tuple[str, str], ...] = (
    (r"\b(owner|founder|co-?founder)\b", "owner"),
    (r"\b(ceo|cfo|coo|cto|cio|ciso|cmo|cro|cpo|cdo|chief|president)\b", "c_level"),
    (r"\b(vp|svp|evp|avp|vice[- ]president)\b", "vp"),
    (r"\b(head of|director|directeur|direktor|gm|general manager)\b", "director"),
    (r"\b(manager|mgr|lead|leiter|team lead|supervisor)\b", "manager"),
    (r"\b(senior|sr\.?|principal|staff)\b", "senior"),
    (r"\b(intern|trainee|apprentice|werkstudent|student)\b", "entry"),
    (r"\b(engineer|developer|analyst|specialist|consultant|associate|coordinator|"
     r"representative|rep|executive|accountant|designer|administrator|assistant)\b", "individual"),
)  # fmt: skip

DEPARTMENT: tuple[tuple[str, str], ...] = (
    (r"\b(cto|engineer\w*|developer|software|devops|sre|architect|technology|it|cio|"
     r"ciso|security|data|platform|infrastructure)\b", "engineering"),
    (r"\b(sales|account executive|ae|sdr|bdr|business development|cro|revenue|"
     r"account manager)\b", "sales"),
    (r"\b(revops|sales ops|operations|ops|coo|supply chain|logistics)\b", "operations"),
    (r"\b(marketing|cmo|brand|growth|demand gen\w*|content|communications|pr)\b", "marketing"),
    (r"\b(cfo|finance|financial|accounting|accountant|controller|treasur\w+)\b", "finance"),
    (r"\b(hr|human resources|people|talent|recruit\w*)\b", "human_resources"),
    (r"\b(product|cpo|ux|design\w*)\b", "product"),
    (r"\b(legal|counsel|compliance|attorney|lawyer)\b", "legal"),
    (r"\b(customer success|support|service|cx)\b", "customer_success"),
    (r"\b(ceo|founder|co-?founder|owner|president|managing director|general manager)\b",
     "executive"),
)  # fmt: skip

_SENIORITY = [(re.compile(p, re.IGNORECASE), v) for p, v in SENIORITY]
_DEPARTMENT = [(re.compile(p, re.IGNORECASE), v) for p, v in DEPARTMENT]


def seniority(title: str) -> str | None:
    return next((v for p, v in _SENIORITY if p.search(title)), None)


def department(title: str) -> str | None:
    return next((v for p, v in _DEPARTMENT if p.search(title)), None)


def derive(title: str) -> Derived:
    out: Derived = {}
    level = seniority(title)
    if level:
        out["seniority"] = (level, 0.7)
    area = department(title)
    if area:
        out["department"] = (area, 0.6)
    return out
