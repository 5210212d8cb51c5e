"""The bridge's only door to Salesforce.

`SalesforceGateway.from_settings(settings)` gives the synchronous gateway (Celery tasks);
`AsyncSalesforceGateway(gateway)` the same calls for aiohttp handlers. Exceptions live in
`errors`, id checks in `ids`, SOQL building in `soql`.
"""

from bridge.salesforce.aio import AsyncSalesforceGateway
from bridge.salesforce.auth import (
    AccessToken,
    ClientCredentials,
    JwtBearer,
    PasswordGrant,
    SoapPasswordLogin,
    TokenSource,
    token_source_from_settings,
)
from bridge.salesforce.changes import ChangePage, Watermark
from bridge.salesforce.collections import RecordError, RecordResult
from bridge.salesforce.connection import RetryPolicy, SalesforceConnection
from bridge.salesforce.convert import LeadConvert, LeadConvertResult
from bridge.salesforce.errors import (
    AuthenticationFailed,
    BudgetExhausted,
    InvalidId,
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
    TransientError,
    UnknownFields,
)
from bridge.salesforce.gateway import SalesforceGateway
from bridge.salesforce.session import SalesforceSession
from bridge.salesforce.usage import ApiUsage, LimitInfo, Quota, parse_limit_info

__all__ = [
    "AccessToken",
    "ApiUsage",
    "AsyncSalesforceGateway",
    "AuthenticationFailed",
    "BudgetExhausted",
    "ChangePage",
    "ClientCredentials",
    "InvalidId",
    "JwtBearer",
    "LeadConvert",
    "LeadConvertResult",
    "LimitInfo",
    "PasswordGrant",
    "Quota",
    "RecordError",
    "RecordResult",
    "RequestLimitExceeded",
    "RetryPolicy",
    "SalesforceConnection",
    "SalesforceError",
    "SalesforceGateway",
    "SalesforceSession",
    "SessionExpired",
    "SoapPasswordLogin",
    "TokenSource",
    "TransientError",
    "UnknownFields",
    "Watermark",
    "parse_limit_info",
    "token_source_from_settings",
]
