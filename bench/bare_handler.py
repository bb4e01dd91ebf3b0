"""The baseline for the USSD benchmark: a bare aiohttp handler doing one Redis round trip."""

from __future__ import annotations

import argparse

import redis.asyncio as aioredis
from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    client = aioredis.Redis.from_url(args.redis, decode_responses=True, max_connections=256)

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        await client.get("bench:" + str(form.get("sessionId", "")))
        return web.Response(text="CON hello", content_type="text/plain")

    app = web.Application()
    app.router.add_post("/africastalking/ussd", handler)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
