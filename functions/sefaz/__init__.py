"""The participant that talks to SEFAZ (NF-e 4.00): the library the `sefaz-autorizador` function runs.

- `endpoints`: the web service URLs per authorizer and ambiente (from nfelib's table), or a base URL.
- `client`: a SOAP 1.2 client over mutual TLS with the emitente's A1 (stdlib http.client and ssl).
- `outcome`: what an answer means (AUTORIZADA, DENEGADA, REJEITADA, DUPLICADA) and which failures are
  SEFAZ being unavailable (`SefazIndisponivel`, a `DependencyUnavailable`).
- `authorize`: `autorizar_nfe`, consult-first, never two authorizations for one nota.
- `certificate`: the A1 from Secrets Manager, cached per container.

Imports nothing from `nfe/` (the emulator and the CLI are not in the function's package). Importing
this package loads none of its modules.
"""
