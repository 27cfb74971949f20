"""The readable PDF of an access export: what is stored about one resident, in the
reader's language. Built from the JSON export (storage.privacy.export_resident), so the
two always hold the same data.

The font is DejaVu Sans from matplotlib's package data, so Danish letters and most
symbols print on any machine without system fonts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flows.core.i18n import Texts


def resident_pdf(exported: dict[str, Any], texts: Texts) -> bytes:
    """Renders the export of one resident as an A4 PDF."""
    # Imported here: only an export needs them, and they are large.
    import matplotlib
    from fpdf import FPDF

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    _ = texts._
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    resident = exported["resident"]
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(
        0,
        9,
        _("What stemme stores about {alias}").format(alias=resident["alias"]),
        new_x="LMARGIN",
    )
    pdf.set_font("DejaVu", "", 10)
    site = exported.get("site") or {}
    lines = [
        _("Team: {team}").format(team=exported["team"]["name"]),
        _("Site: {site}").format(site=site.get("name", "-")),
        _("Exported: {when}").format(when=_when(texts, exported["exported_at"])),
        _("Resident since: {when}").format(when=_when(texts, resident["created_at"])),
    ]
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN")
    pdf.ln(4)
    notes = exported["notes"]
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(
        0,
        8,
        texts.ngettext("{count} micro-moment", "{count} micro-moments", len(notes)).format(
            count=len(notes)
        ),
        new_x="LMARGIN",
    )
    for note in notes:
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(
            0,
            6,
            _("#{number} · {when} · by {author}").format(
                number=note["id"],
                when=_when(texts, note["created_at"]),
                author=note["author"] or _("former member"),
            ),
            new_x="LMARGIN",
        )
        pdf.set_font("DejaVu", "", 10)
        if note["redacted_at"]:
            body = _("(the text was removed after the retention period)")
        elif note["voice"]:
            body = _("Voice message, {seconds} s (kept in Telegram, file id in the JSON)").format(
                seconds=note["voice"]["seconds"] or 0
            )
        else:
            body = note["text"] or ""
        pdf.multi_cell(0, 6, body, new_x="LMARGIN")
        if note["markers"]:
            pdf.multi_cell(
                0,
                6,
                _("Markers: {markers}").format(markers=", ".join(note["markers"])),
                new_x="LMARGIN",
            )
        pdf.ln(2)
    return bytes(pdf.output())


def _when(texts: Texts, iso: str | None) -> str:
    if not iso:
        return "-"
    return texts.when(datetime.fromisoformat(iso))
