"""The fiscal core of the NF-e (modelo 55, leiaute 4.00), shared by Faturamento and the SEFAZ function.

Cheap modules (import them anywhere, the API included): `identifiers`, `chave`, `tax`, `model`, `limits`.
Heavy modules, imported only where needed: `xml` (nfelib, lxml; signing pulls in erpbrasil.assinatura
and signxml), `eventos` (the cancelamento and inutilização XML, on top of `xml`) and `danfe`
(BrazilFiscalReport, fpdf2). This package imports none of them.
"""
