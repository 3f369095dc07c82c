"""Multilingual question answering over the Hauts-de-France universities' texts, with citations."""

from .answer import Answer, Citation
from .assistant import Assistant
from .errors import RagError
from .settings import Settings

__all__ = ["Answer", "Assistant", "Citation", "RagError", "Settings"]
