"""Builders of the files the loader reads: log events, song documents, files on disk."""

from __future__ import annotations

import json
from pathlib import Path


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def event(**overrides: object) -> dict:
    base = {
        "artist": "Tesla",
        "auth": "Logged In",
        "firstName": "Ada",
        "gender": "F",
        "itemInSession": 0,
        "lastName": "Lovelace",
        "length": 290.29832,
        "level": "free",
        "location": "London",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1540708070796.0,
        "sessionId": 7,
        "song": "Caught In A Dream",
        "status": 200,
        "ts": 1541121934796,
        "userAgent": "Mozilla/5.0",
        "userId": "42",
    }
    return base | overrides


def song(**overrides: object) -> dict:
    base = {
        "num_songs": 1,
        "artist_id": "ARYKCQI1187FB3B18F",
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "",
        "artist_name": "Tesla",
        "song_id": "SOXLBJT12A8C140925",
        "title": "Caught In A Dream",
        "duration": 290.29832,
        "year": 2004,
    }
    return base | overrides


def lines(*events: dict | str) -> str:
    return "\n".join(item if isinstance(item, str) else json.dumps(item) for item in events)
