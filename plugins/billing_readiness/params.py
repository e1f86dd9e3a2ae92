"""The public face of a check's params: `from billing_readiness.params import ParamSpec` stays importable for a
check of your own (the Check contract is billing_readiness.checks.contract). The spec lives in core/params.py."""

from billing_readiness.core.params import ParamSpec, dag_params, strict_params

__all__ = ["ParamSpec", "dag_params", "strict_params"]
