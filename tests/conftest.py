"""Shared fixtures: a five-document FR/EN corpus and a keyword encoder (no model, no network), and one
session-wide real index on the project corpus for the few end-to-end tests."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import ipaddress
import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")   # nothing in the tests may reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.retrieval import tokenize  # noqa: E402
from rag.settings import Settings  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
REQUIRE_ALL = os.environ.get("RAG_REQUIRE_ALL") == "1" or os.environ.get("RAG_REQUIRE_BROWSER") == "1"


def require(module: str):
    """Import an optional dependency, or skip the test; with RAG_REQUIRE_ALL=1 (CI) a missing one fails."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if REQUIRE_ALL:
            pytest.fail(f"{module} is required here (RAG_REQUIRE_ALL=1) but cannot be imported: {exc}")
        pytest.skip(f"{module} not installed")


# --- No test may reach outside the machine. Patched for the whole session (threads started by a library
# count too); each test fails if anything tried while it ran.
_OUTSIDE: list[str] = []
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "testserver", "", None}


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _guarded(real, host_of):
    def guard(*args, **kwargs):
        host = host_of(*args, **kwargs)
        if not _is_loopback(host):
            _OUTSIDE.append(str(host))
            raise ConnectionRefusedError(f"test tried to reach {host!r} outside the loopback")
        return real(*args, **kwargs)
    return guard


def _address_host(sock, address, *_):
    return address[0] if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) else "localhost"


@pytest.fixture(scope="session", autouse=True)
def _loopback_only():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _guarded(socket.socket.connect, _address_host))
        mp.setattr(socket.socket, "connect_ex", _guarded(socket.socket.connect_ex, _address_host))
        mp.setattr(socket, "getaddrinfo", _guarded(socket.getaddrinfo, lambda host, *a, **k: host))
        yield


@pytest.fixture(autouse=True)
def no_outside_connections(_loopback_only):
    del _OUTSIDE[:]
    yield
    attempts, _OUTSIDE[:] = list(_OUTSIDE), []
    if attempts:
        pytest.fail(f"the test tried to connect outside the loopback: {sorted(set(attempts))}")

FAQ = """Les aides financières
La bourse Erasmus est versée chaque mois pendant la mobilité.
Montant : 210€ (groupe 3), 261€ (groupe 2) ou 312€ (groupe 1) par mois selon la destination.

Critères de la bourse Mermoz
Le montant maximum de la bourse Mermoz est de 400€ par mois.


Contact
Informations sur la mobilité entrante encadrée : international_in@uphf.fr
Informations sur les accords Erasmus+ : erasmus@uphf.fr


La mission handicap
L'étudiant prend contact avec le Relais Handicap afin de déclencher sa demande de PAEH.
"""
LABEL = "L’UPHF compte près de1 700 étudiants étrangersetplus de 200 partenariats.\nInformations sur les accords Erasmus+ : erasmus@uphf.fr\n"
UPJV = "Content | Menu | Autres menus ?\nInternational strategy\nThe UPJV has developed 265 Erasmus partnerships with universities abroad.\nTop of the page\n"
LILLE = "The University of Lille opened an office in Belo Horizonte in Brazil in 2019.\n"
EXTRA = "Le campus du Mont Houy accueille la bibliothèque universitaire.\nL’UPHF compte près de 1 700 étudiants étrangers et plus de 200 partenariats.\n"


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"faq.txt": FAQ, "label.txt": LABEL, "upjv.txt": UPJV, "lille.txt": LILLE, "extra.txt": EXTRA}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    sources = [
        {"id": "uphf-faq", "file": "faq.txt", "title": "FAQ", "institution": "UPHF", "language": "fr", "url": "https://www.uphf.fr", "multi_page": True},
        {"id": "uphf-extra", "file": "extra.txt", "title": "Campus", "institution": "UPHF", "language": "fr", "url": "https://www.uphf.fr"},
        {"id": "uphf-label", "file": "label.txt", "title": "Label", "institution": "UPHF", "language": "fr", "url": "https://www.uphf.fr"},
        {"id": "upjv", "file": "upjv.txt", "title": "UPJV strategy", "institution": "UPJV", "language": "en", "url": "https://www.u-picardie.fr"},
        {"id": "lille", "file": "lille.txt", "title": "Lille strategy", "institution": "Université de Lille", "language": "en", "url": "https://www.univ-lille.fr"},
    ]
    for source in sources:
        source["checked_on"] = "2026-11-23"
    # The office an abstention names comes from sources.json, as in the project's corpus.
    sources[0]["contact"] = {"fr": "au Pôle de relations internationales de l'UPHF : international_in@uphf.fr",
                             "en": "the UPHF international relations office: international_in@uphf.fr"}
    (folder / "sources.json").write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
    return folder


class KeywordEncoder:
    """Hashes accent-folded words into 256 dimensions: questions and passages that share words are close."""

    name = "keyword-test"
    dimension = 256

    def encode_queries(self, texts):
        return self.encode_passages(texts)

    def encode_passages(self, texts):
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                vectors[row, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@pytest.fixture(autouse=True)
def keyword_encoder_is_unfitted(monkeypatch):
    """The fitted models weigh real models' signals; the keyword encoder's tests run the pipeline's unfitted
    fallbacks (mean-cosine ranking, best cosine as confidence), which behave predictably on five documents."""
    from rag.fitted import Fitted

    real_load = Fitted.load.__func__
    monkeypatch.setattr(Fitted, "load", classmethod(
        lambda cls, embedder, *a, **k: cls.unfitted() if embedder == KeywordEncoder.name else real_load(cls, embedder, *a, **k)))


@pytest.fixture
def small_settings(tmp_path) -> Settings:
    corpus = write_corpus(tmp_path / "corpus")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedder=KeywordEncoder.name,
                    data_dir=tmp_path / "data", abstain_threshold=0.2)


@pytest.fixture
def small_assistant(small_settings):
    from rag.assistant import Assistant
    from rag.index import build_index, load_index

    encoder = KeywordEncoder()
    build_index(small_settings, embedder=encoder)
    return Assistant(load_index(small_settings), encoder, small_settings)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    """The project's corpus indexed once with the real default embedder."""
    from rag.index import build_index

    index_dir = tmp_path_factory.mktemp("real") / "index"
    if (PROJECT / "index" / "cache").is_dir():   # vectors `rag index` already embedded here: read, not recomputed
        shutil.copytree(PROJECT / "index" / "cache", index_dir / "cache")
    settings = Settings(index_dir=index_dir, data_dir=tmp_path_factory.mktemp("data"))
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def real_assistant(real_settings):
    from rag.assistant import Assistant

    return Assistant.load(settings=real_settings)


@contextlib.contextmanager
def served_on_loopback(app):
    """`app` served by uvicorn on a free loopback port in a thread; yields its base URL, stops on exit."""
    import threading
    import time

    uvicorn = require("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
