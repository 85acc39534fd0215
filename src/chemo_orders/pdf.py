"""Writing the PDF with weasyprint: kept apart from the order-set view so that it imports
nothing but the standard library until weasyprint itself is needed.

Security: the URL fetcher serves only files inside the templates folder, so user text that
looks like a URL (``file:///etc/passwd``, ``http://…``) fetches nothing. weasyprint is
imported only here (~0.6 s), never on the ``calc`` path.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


def templates_dir() -> Path:
    """The templates folder: inside the installed wheel, else the checkout."""
    installed = Path(__file__).resolve().parent / "templates"  # the wheel puts them in the package
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "templates"


@cache
def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class TemplatesOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Serves files inside the templates folder; refuses everything else (no network)."""

        def __init__(self, root: Path) -> None:
            super().__init__(allowed_protocols=["file"], allow_redirects=False)
            self.root = root.resolve()

        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            if parsed.scheme != "file":
                raise ValueError(f"refused non-file URL: {url}")
            path = Path(unquote(parsed.path)).resolve()
            if not path.is_relative_to(self.root) or not path.is_file():
                raise ValueError(f"refused file outside the templates folder: {url}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    return TemplatesOnlyFetcher


@cache
def _font_config() -> Any:
    """One font configuration per process: weasyprint otherwise builds one per document and
    keeps ~230 KB of each alive (measured: bench/run.py, "RSS growth per document")."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def pdf_from_html(html: str, record: bytes, created: dt.datetime | None = None) -> bytes:
    """weasyprint on our HTML, with only the templates folder reachable. ``created`` dates the
    attached record (default now); a fixed date makes the same document the same bytes."""
    import weasyprint

    root = templates_dir()
    attachment = weasyprint.Attachment(
        string=record,
        name="calculation.json",
        description="chemo-orders calc record (JSON)",
        relationship="Data",
        created=created,
        modified=created,
    )
    document = weasyprint.HTML(string=html, base_url=str(root) + "/", url_fetcher=_fetcher_class()(root))
    result = document.write_pdf(
        pdf_variant="pdf/a-3b",
        attachments=[attachment],
        custom_metadata=True,
        font_config=_font_config(),
    )
    assert isinstance(result, bytes)
    return result


class PdfProcess:
    """A helper process that imports weasyprint while the caller calculates.

    weasyprint's import (~0.6 s) and our own stack's (~0.4 s) are both CPU-bound Python, so a
    thread cannot overlap them; a forked process uses the second core. Measured: a cold
    ``render`` then costs about what weasyprint alone does (bench/run.py). Where ``fork`` is
    not available the PDF is written in this process instead. The helper dies with its
    parent (:mod:`lifeline`): killing a ``render`` must not leave it running.
    """

    def __init__(self) -> None:
        import multiprocessing
        import os

        self._process: Any = None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform: render in-process
            return
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_pdf_process_main, args=(child, os.getpid()), daemon=True)
        self._process.start()

    def render(self, html: str, record: bytes) -> bytes:
        if self._process is None:
            return pdf_from_html(html, record)
        self._connection.send((html, record))
        try:
            status, payload = self._connection.recv()
        except EOFError:
            raise RuntimeError("the PDF helper process stopped (could weasyprint be imported?)") from None
        if status != "ok":
            raise RuntimeError(f"PDF rendering failed: {payload}")
        assert isinstance(payload, bytes)
        return payload

    def close(self) -> None:
        """Stop the helper (it exits by itself after one document; this also covers errors)."""
        if self._process is not None:
            self._process.terminate()
            self._process.join()


def _pdf_process_main(connection: Any, parent: int) -> None:
    from .lifeline import die_with_parent

    die_with_parent(parent)
    import weasyprint  # noqa: F401  - the point of this process: import while the parent works

    try:
        html, record = connection.recv()
    except EOFError:
        return
    try:
        connection.send(("ok", pdf_from_html(html, record)))
    except Exception as error:  # reported to the parent, which fails loudly
        connection.send(("error", f"{error.__class__.__name__}: {error}"))
