"""The flops model: arithmetic of one gradient, Hessian-vector product and Hessian."""

from __future__ import annotations

__all__ = ["FLOPS_MODEL", "FLOPS_NOTES", "flops"]

#: Elementwise flops per logit entry of one value-and-gradient evaluation (exp/log count 1):
#: softmax: subtract the row max, exp, row sum, divide, weight; sigmoid: |z|, exp, log1p,
#: max, add, y*z, subtract, divide, select, subtract y, weight.
_ELEMENTWISE = {"softmax": 5, "sigmoid": 11}
FLOPS_NOTES = (
    "Counts for one evaluation at n rows, d features, k outputs (k = K for softmax and "
    "one-vs-rest, 1 for logistic, L for independent sigmoids, the number of label sets for "
    "the powerset). The two products Z = X W and X^T G dominate: 2ndk flops each. "
    "Elementwise work per logit entry, exp and log counted as one flop: softmax 5 (subtract "
    "row max, exp, row sum, divide, weight) plus one log per row; sigmoid 11 (|z|, exp, "
    "log1p, max, add, y z, subtract, divide, select, subtract y, weight). Transcendentals: "
    "softmax nk exp + n log, sigmoid nk exp + nk log1p. Hessian-vector product: the same "
    "two products plus 4nk (softmax: p * (v - <p, v>)) or 2nk (sigmoid: h * v). Full "
    "Hessian: one block X^T diag(h) X (2n(d+1)^2 flops) per output pair: k blocks for "
    "sigmoids (block diagonal), k(k+1)/2 for softmax (dense). Cholesky of the p x p "
    "Hessian: p^3/3.")


def flops(family: str, n: int, d: int, k: int) -> dict[str, float]:
    matmul = 4.0 * n * d * k
    elem = _ELEMENTWISE[family] * n * k + (2 * n if family == "softmax" else 0)
    bias = 2.0 * n * k
    blocks = k * (k + 1) / 2 if family == "softmax" else k
    p = (d + 1) * k
    return {
        "flops_per_grad_eval": matmul + elem + bias,
        "transcendentals_per_grad_eval": float(n * k + (n if family == "softmax" else n * k)),
        "flops_per_hessp": matmul + bias + (4 if family == "softmax" else 2) * n * k,
        "flops_per_hessian": 2.0 * n * (d + 1) ** 2 * blocks,
        "flops_cholesky": p ** 3 / 3.0,
        "hessian_unique_blocks": float(blocks),
        "hessian_nonzero_entries": float((d + 1) ** 2 * (k * k if family == "softmax" else k)),
        "hessian_bytes": float(8 * p * p),
    }




#: The formulas as text (``ProblemResult.computation.flops_model``).
FLOPS_MODEL = {
    "gradient": "4 n d k + 2 n k + c n k (+ 2n for softmax); c = 5 softmax, 11 sigmoid",
    "hessp": "4 n d k + 2 n k + (4 softmax | 2 sigmoid) n k",
    "hessian": "2 n (d+1)^2 per block; k blocks (sigmoid) or k(k+1)/2 (softmax)",
    "notes": FLOPS_NOTES,
}
