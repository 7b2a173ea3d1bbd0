"""The command layer: the `heph` CLI, `heph up` and the terminal views.

It is the top floor: it may import the launcher and the Guardian, while the
server's own modules never do, so the server stays importable on its own.
"""
