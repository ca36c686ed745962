"""A SOAP 1.2 client for SEFAZ's NF-e 4.00 web services over mutual TLS, on the standard library.

Why not nfelib's client (`nfelib.nfe.client.v4_0.nfe.NfeClient`, the `nfelib[soap]` extra) or the
brazil-fiscal-client it stands on (akretion/brazil-fiscal-client, read at its current main):
- nfelib's README (3.2.0) calls SOAP transmission BETA ("API may change"). Its `processar_lote` has
  the consult-before-send step as a stub (`if False:  # self._consulta_documento_antes_de_enviar`),
  and `envia_documento` decides whether an NF-e is already signed by looking for the substring
  "X509Certificate" and otherwise signs it through `sign_xml`, which prefers CERT_FILE/CERT_PASSWORD
  from the environment to its arguments. The consult-first rule is the part this function must own
  (`authorize.py`), and it needs only three plain operations underneath.
- brazil-fiscal-client's `FiscalClient` does not verify the server's certificate unless asked
  (`verify_ssl: bool = False`), takes one `timeout` (20 s) for connect and read alike, speaks SOAP 1.1 by
  default (rewriting SOAP 1.2 answers by string replacement), and puts the signed NF-e into the envelope
  by regular-expression replacement of a placeholder, then strips every newline from the whole payload.
- They add requests, requests-pkcs12 and xsdata[soap] to the function's package, none of which this
  function needs otherwise.
What this function needs is small: build one message, POST it with the A1 certificate, verify SEFAZ
against a given CA bundle (ICP-Brasil's in production, a build input; the emulator's CA locally), with
separate connect and read timeouts, and read one element of the answer. `http.client` and `ssl` do that
with no dependency, and every failure maps to one place (`outcome.falha_de_transporte`).

Messages are built with nfelib's bindings (consStatServ, consSitNFe) or lxml (enviNFe, which must carry
the signed NF-e without re-serializing it through the bindings); envEvento and inutNFe arrive built and
signed (`functions.fiscal.eventos`); answers are read with lxml.
No retries here: whether to try again, and to consult first, is the flows' decision (`authorize.autorizar_nfe`,
`cancel.cancelar_nfe`, `inutilize.inutilizar`).
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from functions.sefaz.endpoints import Servico, urls
from functions.sefaz.outcome import NFE_NS, RespostaInesperada, SefazIndisponivel, falha_de_transporte

__all__ = ["SOAP12_NS", "VERSAO", "SefazClient", "envi_nfe", "tls_context", "uf_da_chave"]

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
VERSAO = "4.00"
DEFAULT_CONNECT_TIMEOUT = 5.0
# A synchronous authorization is answered in seconds; 30 s leaves room for a slow SEFAZ without
# letting one hung call eat the function's whole timeout.
DEFAULT_READ_TIMEOUT = 30.0
# enviNFe is at most 500 KB (214); the answers are a few KB. More than this is not SEFAZ.
MAX_ANSWER_BYTES = 2_000_000

_RESPOSTA = {
    Servico.AUTORIZACAO: "retEnviNFe",
    Servico.CONSULTA_PROTOCOLO: "retConsSitNFe",
    Servico.STATUS_SERVICO: "retConsStatServ",
    Servico.RECEPCAO_EVENTO: "retEnvEvento",
    Servico.INUTILIZACAO: "retInutNFe",
}
_UF_IBGE = {
    "RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17", "MA": "21",
    "PI": "22", "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27", "SE": "28", "BA": "29",
    "MG": "31", "ES": "32", "RJ": "33", "SP": "35", "PR": "41", "SC": "42", "RS": "43", "MS": "50",
    "MT": "51", "GO": "52", "DF": "53",
}  # fmt: skip


def uf_da_chave(chave: str) -> str:
    """The emitente's UF from a chave's first two digits (cUF, the IBGE code)."""
    for uf, code in _UF_IBGE.items():
        if chave[:2] == code:
            return uf
    raise ValueError(f"chave {chave[:2]}...: {chave[:2]!r} is no UF's IBGE code")


def _parser() -> etree.XMLParser:
    # SEFAZ's answer is outside input: no entities, no network. One parser per call (lxml parsers are
    # not thread-safe).
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _q(tag: str) -> str:
    return f"{{{NFE_NS}}}{tag}"


def tls_context(
    pkcs12: bytes,
    password: str,
    *,
    ca_file: str | None = None,
    ca_data: str | None = None,
    aberto: tuple[Any, Any, Any] | None = None,
) -> ssl.SSLContext:
    """A TLS client context presenting the A1 certificate and trusting only the given CA bundle.

    `ssl` loads a client certificate only from a file, so the key and certificate are written as PEM to
    a private temporary file (mode 0600 from mkstemp) with the key encrypted under a random one-time
    password, loaded, and the file removed before returning: the plain key never touches the disk.
    The server is verified (certificate chain and host name) against `ca_file` or `ca_data` (PEM), never
    the system store: SEFAZ's certificates chain to ICP-Brasil, which public bundles do not carry.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    if (ca_file is None) == (ca_data is None):
        raise ValueError("give exactly one of ca_file or ca_data: the CA bundle that SEFAZ's certificate chains to")
    # `aberto`: the PKCS#12 already opened by whoever read it (certificate.CertificadoA1), to spare the
    # key derivation a second time.
    key, certificate, chain = aberto or p12.load_key_and_certificates(pkcs12, password.encode())
    if key is None or certificate is None:
        raise ValueError("the PKCS#12 holds no private key and certificate")
    one_time = secrets.token_urlsafe(32).encode()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time),
    )
    for cert in (certificate, *chain):
        pem += cert.public_bytes(serialization.Encoding.PEM)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca_file, cadata=ca_data)
    descriptor, path = tempfile.mkstemp(prefix="a1-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(path, password=one_time)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return context


def envi_nfe(signed_nfe_xml: str, id_lote: str) -> etree._Element:
    """enviNFe with one signed NF-e, indSinc=1 (NT 2025.001: a lote of one sent asynchronously is 452).

    Built with lxml around the parsed NF-e: its bytes under the signature keep their canonical form,
    which re-serializing through the bindings would not promise.
    """
    if not re.fullmatch(r"[0-9]{1,15}", id_lote):
        raise ValueError("idLote is 1 to 15 digits")
    nfe = etree.fromstring(signed_nfe_xml.encode(), _parser())
    if nfe.tag != _q("NFe") or nfe.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None:
        raise ValueError("autorizar expects a signed NFe")
    envi = etree.Element(_q("enviNFe"), {"versao": VERSAO}, nsmap={None: NFE_NS})
    etree.SubElement(envi, _q("idLote")).text = id_lote
    etree.SubElement(envi, _q("indSinc")).text = "1"
    envi.append(nfe)
    etree.cleanup_namespaces(envi)
    return envi


def _from_binding(binding: object) -> etree._Element:
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    serializer = XmlSerializer(config=SerializerConfig(indent=None, xml_declaration=False))
    return etree.fromstring(serializer.render(obj=binding, ns_map={None: NFE_NS}).encode(), _parser())


class SefazClient:
    """One emitente's client for one authorizer and ambiente.

    `urls` maps each service to its URL (`endpoints.urls(uf=..., ambiente=..., base_url=...)`); `tls` is
    `tls_context(...)`. Each call opens its own connection (one nota per invocation; SEFAZ servers drop
    idle connections anyway) with `connect_timeout` for TCP and the TLS handshake and `read_timeout`
    for the answer. Methods return SEFAZ's ret* element; `outcome` reads what it means.
    """

    def __init__(
        self,
        *,
        uf: str,
        ambiente: int,
        urls: Mapping[Servico, str],
        tls: ssl.SSLContext,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if uf.upper() not in _UF_IBGE:
            raise ValueError(f"unknown UF {uf!r}")
        if int(ambiente) not in (1, 2):
            raise ValueError("ambiente must be 1 (produção) or 2 (homologação)")
        self.uf = uf.upper()
        self.ambiente = int(ambiente)
        self.urls = dict(urls)
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    @classmethod
    def para(
        cls,
        *,
        uf: str,
        ambiente: int,
        pkcs12: bytes,
        password: str,
        ca_file: str | None = None,
        ca_data: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        aberto: tuple[Any, Any, Any] | None = None,
    ) -> SefazClient:
        """The client for an emitente of `uf`: URLs from the table (or `base_url`), TLS from the A1."""
        return cls(
            uf=uf,
            ambiente=ambiente,
            urls=urls(uf=uf, ambiente=ambiente, base_url=base_url),
            tls=tls_context(pkcs12, password, ca_file=ca_file, ca_data=ca_data, aberto=aberto),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

    # ---- operations ---------------------------------------------------------------------------------

    def status_servico(self) -> etree._Element:
        """NFeStatusServico4: retConsStatServ (read it with `outcome.status_servico`)."""
        from nfelib.nfe.bindings.v4_0.cons_stat_serv_v4_00 import ConsStatServ
        from nfelib.nfe.bindings.v4_0.leiaute_cons_stat_serv_v4_00 import TconsStatServXServ
        from nfelib.nfe.bindings.v4_0.tipos_basico_v4_00 import Tamb, TcodUfIbge

        message = ConsStatServ(
            tpAmb=Tamb(str(self.ambiente)),
            cUF=TcodUfIbge(_UF_IBGE[self.uf]),
            xServ=TconsStatServXServ.STATUS,
            versao=VERSAO,
        )
        return self.call(Servico.STATUS_SERVICO, _from_binding(message))

    def autorizar(self, signed_nfe_xml: str, id_lote: str) -> etree._Element:
        """NFeAutorizacao4 with one signed NF-e, synchronously: retEnviNFe (`outcome.classificar_autorizacao`)."""
        return self.call(Servico.AUTORIZACAO, envi_nfe(signed_nfe_xml, id_lote))

    def consultar(self, chave: str) -> etree._Element:
        """NFeConsultaProtocolo4 by chave: retConsSitNFe (`outcome.classificar_consulta`)."""
        from nfelib.nfe.bindings.v4_0.cons_sit_nfe_v4_00 import ConsSitNfe
        from nfelib.nfe.bindings.v4_0.leiaute_cons_sit_nfe_v4_00 import TconsSitNfeXServ, TverConsSitNfe
        from nfelib.nfe.bindings.v4_0.tipos_basico_v4_00 import Tamb

        if not re.fullmatch(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}", chave):
            raise ValueError("a chave is 44 positions")
        message = ConsSitNfe(
            tpAmb=Tamb(str(self.ambiente)),
            xServ=TconsSitNfeXServ.CONSULTAR,
            chNFe=chave,
            versao=TverConsSitNfe(VERSAO),
        )
        return self.call(Servico.CONSULTA_PROTOCOLO, _from_binding(message))

    def evento(self, env_evento: etree._Element) -> etree._Element:
        """NFeRecepcaoEvento4 with an envEvento holding signed events (`fiscal.eventos.env_evento`):
        retEnvEvento (`outcome.classificar_evento`). The caller's element is sent as a copy."""
        if env_evento.tag != _q("envEvento"):
            raise ValueError("evento expects an envEvento")
        return self.call(Servico.RECEPCAO_EVENTO, copy.deepcopy(env_evento))

    def inutilizar(self, inut_nfe: etree._Element) -> etree._Element:
        """NFeInutilizacao4 with a signed inutNFe (`fiscal.eventos.inutilizacao_assinada`): retInutNFe
        (`outcome.classificar_inutilizacao`). The caller's element is sent as a copy."""
        if inut_nfe.tag != _q("inutNFe") or inut_nfe.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None:
            raise ValueError("inutilizar expects a signed inutNFe")
        return self.call(Servico.INUTILIZACAO, copy.deepcopy(inut_nfe))

    # ---- SOAP ---------------------------------------------------------------------------------------

    def envelope(self, servico: Servico, message: etree._Element) -> bytes:
        """The SOAP 1.2 request: Envelope/Body/nfeDadosMsg (the service's WSDL namespace)/message."""
        envelope = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"soap12": SOAP12_NS})
        body = etree.SubElement(envelope, f"{{{SOAP12_NS}}}Body")
        dados = etree.SubElement(body, f"{{{servico.namespace}}}nfeDadosMsg", nsmap={None: servico.namespace})
        dados.append(message)
        text: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
        return text

    def call(self, servico: Servico, message: etree._Element) -> etree._Element:
        """POST `message` to `servico` and return the ret* element of its answer, standing alone.

        Raises SefazIndisponivel (SefazTimeout) when SEFAZ cannot be reached, does not answer in time,
        answers HTTP 5xx, nothing, or something without the expected ret*; TlsRecusado when the server is
        not the one the CA bundle vouches for or refuses our certificate; RespostaInesperada on HTTP 4xx.
        """
        url = self.urls[servico]
        status, answer = self._post(url, self.envelope(servico, message), servico)
        if status >= 500:
            raise SefazIndisponivel(f"{url}: HTTP {status}")
        if status != 200:
            raise RespostaInesperada(f"{url}: HTTP {status}")
        return self._result(url, answer, _RESPOSTA[servico])

    def _post(self, url: str, body: bytes, servico: Servico) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"SEFAZ URLs are https: {url!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {
            # SOAP 1.2 carries the action in the media type (no SOAPAction header).
            "Content-Type": f'application/soap+xml; charset=utf-8; action="{servico.namespace}/{servico.operacao}"',
            "Accept": "application/soap+xml, text/xml",
        }
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port or 443, timeout=self.connect_timeout, context=self.tls
        )
        try:
            connection.connect()  # TCP and the TLS handshake, under the connect timeout
            assert connection.sock is not None
            connection.sock.settimeout(self.read_timeout)
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER_BYTES + 1)
            return response.status, answer
        except (OSError, http.client.HTTPException) as error:
            raise falha_de_transporte(error, url=url) from error
        finally:
            connection.close()

    @staticmethod
    def _result(url: str, answer: bytes, expected: str) -> etree._Element:
        if len(answer) > MAX_ANSWER_BYTES:
            raise SefazIndisponivel(f"{url}: an answer over {MAX_ANSWER_BYTES} bytes")
        if not answer.strip():
            raise SefazIndisponivel(f"{url}: empty answer")
        try:
            envelope = etree.fromstring(answer, _parser())
        except etree.XMLSyntaxError as error:
            raise SefazIndisponivel(f"{url}: unparsable answer ({error})") from error
        # Servers differ in the wrapper around the ret* (nfeResultMsg, or an operation's Result element);
        # what matters is the one ret* in SEFAZ's namespace under the SOAP 1.2 Body.
        body = envelope.find(f"{{{SOAP12_NS}}}Body")
        found = [] if body is None else list(body.iter(_q(expected)))
        if len(found) != 1:
            raise SefazIndisponivel(f"{url}: the answer holds {len(found)} {expected}")
        # Stand it alone (lxml would carry the envelope's namespace declarations into every copy).
        result = etree.fromstring(etree.tostring(found[0]), _parser())
        etree.cleanup_namespaces(result)
        return result
