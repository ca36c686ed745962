"""The stack's fiscal archive: where each nota's documents are kept (S3, versioned, Object Lock).

Keys name the document's fiscal identity, so an auditor can find a nota without the database:
`nfe/<ambiente>/serie-<série>/<número, 9 digits>-<chave>/` holds `NFe<chave>-procNFe.xml` (the NF-e as
SEFAZ authorized or denied it, with its protNFe: the document the law keeps), `NFe<chave>.xml` (the unsigned
NF-e, before SEFAZ answered) and the DANFE (`NFe<chave>-danfe.pdf`, the authorized one;
`NFe<chave>-danfe-previa.pdf`, the preview). Shared by Faturamento's API and the SEFAZ participant.
The bucket's default retention locks each object version when it is written (components/
fiscal_archive.py); nothing here deletes or overwrites. Without a bucket (unit tests) the archive
is a no-op and the database alone keeps the XML.
"""

from __future__ import annotations

from typing import Any

AMBIENTES = {1: "producao", 2: "homologacao"}


def prefix(ambiente: int, serie: int, numero: int, chave: str) -> str:
    return f"nfe/{AMBIENTES[ambiente]}/serie-{serie:03d}/{numero:09d}-{chave}"


def xml_key(ambiente: int, serie: int, numero: int, chave: str) -> str:
    return f"{prefix(ambiente, serie, numero, chave)}/NFe{chave}.xml"


def proc_key(ambiente: int, serie: int, numero: int, chave: str) -> str:
    return f"{prefix(ambiente, serie, numero, chave)}/NFe{chave}-procNFe.xml"


def proc_evento_key(ambiente: int, serie: int, numero: int, chave: str, tp_evento: str = "110111", seq: int = 1) -> str:
    """The procEventoNFe of an event (the cancelamento: 110111, sequence 1) beside the nota's nfeProc."""
    return f"{prefix(ambiente, serie, numero, chave)}/NFe{chave}-procEventoNFe-{tp_evento}-{seq:02d}.xml"


def inutilizacao_key(ambiente: int, serie: int, de: int, ate: int) -> str:
    """The procInutNFe of a range of números, beside the série's notas."""
    return f"nfe/{AMBIENTES[ambiente]}/serie-{serie:03d}/inutilizacao-{de:09d}-{ate:09d}-procInutNFe.xml"


def danfe_key(
    ambiente: int, serie: int, numero: int, chave: str, *, previa: bool = False, cancelada: bool = False
) -> str:
    """The DANFE with the protocol, or (`previa`) the preview rendered before SEFAZ answered, or
    (`cancelada`) the one that says CANCELADA: one key each, since Object Lock keeps every version and
    none may be read as another."""
    suffix = "-danfe-previa.pdf" if previa else "-danfe-cancelada.pdf" if cancelada else "-danfe.pdf"
    return f"{prefix(ambiente, serie, numero, chave)}/NFe{chave}{suffix}"


class FiscalArchive:
    def __init__(self, bucket: str | None, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    def _s3(self) -> Any:
        if self._client is None:
            import boto3  # on first use: the API's other routes never pay for it

            self._client = boto3.client("s3")
        return self._client

    def put(self, key: str, body: bytes, content_type: str) -> bool:
        """Store one document; False without a bucket."""
        if not self.bucket:
            return False
        self._s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        return True

    def get(self, key: str) -> bytes | None:
        """The document, or None when it is not there (or there is no bucket)."""
        if not self.bucket:
            return None
        s3 = self._s3()
        try:
            response = s3.get_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body
