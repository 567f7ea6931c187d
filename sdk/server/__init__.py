"""The inference server behind `reelpoet serve` and `Client.remote`: a Starlette job API."""
