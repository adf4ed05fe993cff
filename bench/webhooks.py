"""Signature verifications per second, per scheme, beside the official SDK verifier where one
is on PyPI, in the same run: ``stripe.WebhookSignature.verify_header`` and
``slack_sdk.signature.SignatureVerifier``. The SDKs are bench-only (``pip install stripe
slack_sdk`` into the venv); without them their rows are skipped.

    .venv/bin/python bench/webhooks.py [--seconds 1.0] [--body-bytes 2048]

Patchbay's number is the hot path of ``WebhookManager.handle`` (``Verifier.verify`` with keys
prepared once per subscription version); the SDK rows call the SDK's public entry point.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patchbay.mocks.webhook_sender import sign
from patchbay.runtime.spec import SpecRegistry
from patchbay.runtime.webhooks import verifier_for

SECRET = "whsec_bench_secret_0123456789abcdef"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (batches of 1000 after a warm-up)."""
    for _ in range(1000):
        fn()
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(1000):
            fn()
        done += 1000
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--body-bytes", type=int, default=2048)
    args = parser.parse_args()
    registry = SpecRegistry()
    body = json.dumps({"id": "evt_bench", "pad": "x" * args.body_bytes}).encode()
    now = time.time()
    rows: list[tuple[str, float, str, float | None]] = []
    for connector in ("slack", "stripe", "github", "typeform", "zendesk"):
        hook = registry.get(connector).triggers.webhooks[0]
        verifier = verifier_for(hook.verification)
        headers = {k.lower(): v for k, v in sign(hook, body, SECRET, timestamp=now).items()}
        keys = verifier.keys([SECRET])
        verifier.verify(headers, body, keys, now)  # must pass before it is timed
        ours = rate(partial(verifier.verify, headers, body, keys, now), args.seconds)
        sdk_name, sdk_rate = "-", None
        if connector == "stripe":
            try:
                import stripe

                header = headers["stripe-signature"]
                payload = body.decode()
                stripe.WebhookSignature.verify_header(payload, header, SECRET, 300)
                check = partial(stripe.WebhookSignature.verify_header, payload, header, SECRET, 300)
                sdk_rate = rate(check, args.seconds)
                sdk_name = "stripe.WebhookSignature.verify_header"
            except ImportError:
                sdk_name = "(pip install stripe)"
        if connector == "slack":
            try:
                from slack_sdk.signature import SignatureVerifier

                sdk = SignatureVerifier(SECRET)
                ts, sig = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
                assert sdk.is_valid(body, ts, sig)
                sdk_rate = rate(partial(sdk.is_valid, body, ts, sig), args.seconds)
                sdk_name = "slack_sdk SignatureVerifier.is_valid"
            except ImportError:
                sdk_name = "(pip install slack_sdk)"
        rows.append((connector, ours, sdk_name, sdk_rate))
    print(f"body {len(body)} bytes, {args.seconds:.1f} s per row, one secret")
    print(f"{'scheme':<10} {'patchbay/s':>12}  {'official SDK':<40} {'sdk/s':>10} {'ratio':>6}")
    for connector, ours, sdk_name, sdk_rate in rows:
        sdk_col = f"{sdk_rate:>10,.0f}" if sdk_rate else f"{'':>10}"
        ratio = f"{ours / sdk_rate:>6.2f}" if sdk_rate else f"{'':>6}"
        print(f"{connector:<10} {ours:>12,.0f}  {sdk_name:<40} {sdk_col} {ratio}")


if __name__ == "__main__":
    main()
