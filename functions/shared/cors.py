"""The API's CORS header lists, declared once. They live with the functions because the functions'
own answers carry them too (API Gateway adds no CORS header to a proxy response); nfe/cors.py builds
the stack's MOCK preflights and gateway responses, and local mode's, from the same lists."""

from __future__ import annotations

# Request headers a browser may send: the API's own (Authorization carries the Cognito ID token,
# Idempotency-Key makes a POST safe to repeat) and the SigV4 ones API Gateway's console lists.
ALLOW_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Amz-Date",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "Idempotency-Key",
)
# Response headers a script may read besides the CORS-safelisted ones: throttling's Retry-After,
# the request id to quote in a support request, and which of API Gateway's errors it was.
EXPOSE_HEADERS = ("Retry-After", "X-Amzn-RequestId", "X-Amzn-ErrorType")
# Browsers cache a preflight this long (seconds); Chromium caps it at 7200.
MAX_AGE_SECONDS = 600
