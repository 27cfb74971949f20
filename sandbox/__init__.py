"""The sandbox: stemme without Telegram, for trying it in a browser."""
