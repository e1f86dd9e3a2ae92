"""The public face of the DAG: `from billing_readiness.dag import build` (the DAG file users copy), `CHECKS` and
`gate_on` stay importable from here. The DAG is built in shell/dag.py."""

from billing_readiness.shell.dag import CHECKS, DOC_MD, build, doc_md, gate_on

__all__ = ["CHECKS", "DOC_MD", "build", "doc_md", "gate_on"]
