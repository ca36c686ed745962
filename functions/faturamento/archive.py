"""The stack's fiscal archive: where each nota's documents are kept (S3, versioned, Object Lock).

Keys name the document's fiscal identity, so an auditor can find a nota without the database:
`nfe/<ambiente>/serie-<série>/<número, 9 digits>-<chave>/NFe<chave>.xml` and `...-danfe.pdf`.
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


def danfe_key(ambiente: int, serie: int, numero: int, chave: str) -> str:
    return f"{prefix(ambiente, serie, numero, chave)}/NFe{chave}-danfe.pdf"


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
