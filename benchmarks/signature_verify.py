"""Standard Webhooks verification per call, on one callout's headers as aiohttp hands them
over: the `standardwebhooks` package's `verify` given them all, against the bridge's
`bridge.triggers.signatures.verify` (the same package behind a wrapper that passes it only the
three signed headers and maps its errors).

    .venv/bin/python benchmarks/signature_verify.py [--calls 50000]

Prints µs per call for each (best of five runs) and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

from multidict import CIMultiDict, CIMultiDictProxy
from standardwebhooks.webhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import report
from benchmarks.ingest import ORG
from bridge.triggers.signatures import sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = (
    '{"object":"Lead","ids":["00Q5g0000000001AAA"],"event":"after_insert","org_id":"' + ORG + '"}'
).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50_000)
    calls = parser.parse_args().calls
    now = int(time.time())
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "Host": "bench",
                "Authorization": "Bearer brk_x_y",
                "Content-Type": "application/json",
                "webhook-id": "msg_1",
                "webhook-timestamp": str(now),
                "webhook-signature": sign(BODY, SECRET, "msg_1", now),
                "Content-Length": str(len(BODY)),
            }
        )
    )
    package = Webhook(SECRET)  # built once, as the bridge did (secret decoding not counted)

    def best(run: object) -> float:
        return min(timeit.repeat(run, number=calls, repeat=5)) / calls * 1e6  # type: ignore[arg-type]

    theirs = best(lambda: package.verify(BODY, headers, json_parse=False))  # type: ignore[arg-type]
    ours = best(lambda: verify(BODY, headers, [SECRET]))
    report("signature_verify.standardwebhooks", us_per_call=round(theirs, 2))
    report("signature_verify.bridge", us_per_call=round(ours, 2))
    report("signature_verify.ratio", bridge_vs_package=round(ours / theirs, 2))


if __name__ == "__main__":
    main()
