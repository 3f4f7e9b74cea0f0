"""PDFs written by hand for the reader's tests: exact structure, any trailer or catalog."""

from __future__ import annotations


def pdf_bytes(
    *, pages: int = 1, mediabox: str = "0 0 612 792", catalog: str = "", trailer: str = ""
) -> bytes:
    """A small PDF written by hand, with a correct cross-reference table."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog} >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
        *[f"<< /Type /Page /Parent 2 0 R /MediaBox [{mediabox}] >>" for _ in range(pages)],
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer} >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


SCRIPT = "/Names << /JavaScript << /Names [(x) << /S /JavaScript /JS (app.alert(1)) >>] >> >>"


def encrypted_pdf() -> bytes:
    secret = "<" + "11" * 32 + ">"
    encrypt = f"/Encrypt << /Filter /Standard /V 1 /R 2 /O {secret} /U {secret} /P -4 >>"
    return pdf_bytes(trailer=f"{encrypt} /ID [<{'22' * 16}> <{'22' * 16}>]")
