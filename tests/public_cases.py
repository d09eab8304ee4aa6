# SPDX-License-Identifier: Apache-2.0
"""Loss cases taken from public bug reports against PyTorch and fused-loss libraries.

Each case holds small inputs and a value computed independently in high precision from the math
of the loss (not from an implementation), and names the kind of fault it stands for
(`category`). Conventions: a term whose coefficient is exactly 0 contributes 0 even against an
infinite factor; the mean of nothing is NaN. `grad_input` is d loss / d input for a backward of
ones; None means unchecked, {'shape': [...]} checks only the shape. `raises` lists acceptable
exception class names.
"""

INF = float("inf")
NAN = float("nan")

CASES = [
    {
        "id": "bce_pos_weight_extreme_negative_logit",
        "loss": "binary_cross_entropy_with_logits",
        "category": "nan_inf",
        "kwargs": {"reduction": "mean", "pos_weight": [1.0, 2.0]},
        "dtype": "float32",
        "inputs": {"input": [0.5, -150.0], "target": [0.0, 1.0]},
        "expected": {"loss": 150.48703849209005, "grad_input": [0.3112296656009273, -1.0]},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "bce_infinite_logits",
        "loss": "binary_cross_entropy_with_logits",
        "category": "nan_inf",
        "kwargs": {"reduction": "none"},
        "dtype": "float32",
        "inputs": {"input": [-INF, INF, INF, -INF, 3.0], "target": [0.7, 0.6, 1.0, 0.0, 0.25]},
        "expected": {
            "loss": [INF, INF, 0.0, 0.0, 2.298587351573742],
            "grad_input": [-0.699999988079071, 0.3999999761581421, 0.0, 0.0, 0.7025741268224333],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "bce_empty_mean",
        "loss": "binary_cross_entropy_with_logits",
        "category": "empty",
        "kwargs": {"reduction": "mean"},
        "dtype": "float32",
        "inputs": {"input": [], "target": []},
        "expected": {"loss": NAN, "grad_input": []},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "bce_empty_sum",
        "loss": "binary_cross_entropy_with_logits",
        "category": "empty",
        "kwargs": {"reduction": "sum"},
        "dtype": "float32",
        "inputs": {"input": [], "target": []},
        "expected": {"loss": 0.0, "grad_input": []},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "bce_pos_weight_broadcasts_last_dim",
        "loss": "binary_cross_entropy_with_logits",
        "category": "broadcasting",
        "kwargs": {"reduction": "sum", "pos_weight": [1.0, 2.0, 3.0]},
        "dtype": "float32",
        "inputs": {
            "input": [[[0.3, -1.2, 2.0], [1.5, 0.0, -0.7]], [[-2.2, 0.8, 0.1], [0.4, -0.3, 3.1]]],
            "target": [[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]],
        },
        "expected": {
            "loss": 12.98693125025606,
            "grad_input": [
                [
                    [-0.42555748027417084, 0.2314752080183145, -0.35760876606635267],
                    [0.8175744761936437, -1.0, -2.004563308575428],
                ],
                [
                    [-0.9002495151623281, -0.6200510326447706, 0.5249791878505392],
                    [0.5986876615445177, 0.42555748027417084, -0.12932177662469801],
                ],
            ],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "bce_pos_weight_shape_mismatch_raises",
        "loss": "binary_cross_entropy_with_logits",
        "category": "bad_input",
        "kwargs": {"reduction": "sum", "pos_weight": [1.0, 2.0]},
        "dtype": "float32",
        "inputs": {
            "input": [[[0.3, -1.2, 2.0], [1.5, 0.0, -0.7]], [[-2.2, 0.8, 0.1], [0.4, -0.3, 3.1]]],
            "target": [[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]],
        },
        "expected": {"raises": ["RuntimeError", "ValueError"]},
        "tolerance": None,
    },
    {
        "id": "bce_target_outside_unit_interval",
        "loss": "binary_cross_entropy_with_logits",
        "category": "semantics",
        "kwargs": {"reduction": "none"},
        "dtype": "float32",
        "inputs": {"input": [0.5, -1.0, 2.0], "target": [5.0, -2.0, 0.5]},
        "expected": {
            "loss": [-1.5259230158198933, -1.6867383124817772, 1.1269280110429725],
            "grad_input": [-4.3775406687981455, 2.268941421369995, 0.3807970779778824],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "focal_fractional_gamma_saturated_grad",
        "loss": "sigmoid_focal_loss",
        "category": "nan_inf",
        "kwargs": {"alpha": 0.25, "gamma": 0.5, "reduction": "mean"},
        "dtype": "float32",
        "inputs": {"input": [[-60.0, -60.0, 60.0, 60.0]], "target": [[0.0, 1.0, 0.0, 1.0]]},
        "expected": {
            "loss": 15.0,
            "grad_input": [[2.3045660504973326e-40, -0.0625, 0.1875, -7.681886834991109e-41]],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-07},
    },
    {
        "id": "focal_forward_extreme_logits",
        "loss": "sigmoid_focal_loss",
        "category": "nan_inf",
        "kwargs": {"alpha": 0.25, "gamma": 2.0, "reduction": "none"},
        "dtype": "float32",
        "inputs": {"input": [88.0, -88.0, 88.0], "target": [1.0, 0.0, 0.0]},
        "expected": {
            "loss": [5.548770802432034e-116, 1.6646312407296103e-115, 66.0],
            "grad_input": [-1.6646312407296103e-115, 4.9938937221888315e-115, 0.75],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "focal_sign_is_positive",
        "loss": "sigmoid_focal_loss",
        "category": "semantics",
        "kwargs": {"alpha": 0.25, "gamma": 2.0, "reduction": "none"},
        "dtype": "float32",
        "inputs": {"input": [0.0, 0.0, -2.0], "target": [1.0, 0.0, 1.0]},
        "expected": {
            "loss": [0.04332169878499658, 0.12996509635498973, 0.4125195448553522],
            "grad_input": [-0.07457169878499659, 0.22371509635498973, -0.2691784326121205],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "logcosh_large_residual_fp32",
        "loss": "log_cosh",
        "category": "overflow",
        "kwargs": {"reduction": "mean"},
        "dtype": "float32",
        "inputs": {
            "input": [100.0, -100.0, 89.5, 10000.0, 0.5, 0.0001],
            "target": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        },
        "expected": {
            "loss": 1714.4745876316197,
            "grad_input": [
                0.16666666666666666,
                -0.16666666666666666,
                0.16666666666666666,
                0.16666666666666666,
                0.07701952621000163,
                1.6666666190075702e-05,
            ],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "kl_negative_target_is_nan",
        "loss": "kl_div",
        "category": "bad_input",
        "kwargs": {"reduction": "sum", "log_target": False},
        "dtype": "float32",
        "inputs": {"input": -1.2039728043259361, "target": -0.5},
        "expected": {"loss": NAN, "grad_input": None},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "kl_zero_targets_batchmean",
        "loss": "kl_div",
        "category": "zero_targets",
        "kwargs": {"reduction": "batchmean", "log_target": False},
        "dtype": "float32",
        "inputs": {
            "input": [
                [-2.3025850929940455, -1.6094379124341003, -1.2039728043259361, -0.916290731874155],
                [
                    -1.3862943611198906,
                    -1.3862943611198906,
                    -1.3862943611198906,
                    -1.3862943611198906,
                ],
            ],
            "target": [[0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]],
        },
        "expected": {
            "loss": 1.049926281927669,
            "grad_input": [[0.0, -0.25, -0.25, 0.0], [0.0, 0.0, -0.5, 0.0]],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "kl_zero_target_very_negative_input_grad",
        "loss": "kl_div",
        "category": "zero_targets",
        "kwargs": {"reduction": "batchmean", "log_target": False},
        "dtype": "float64",
        "inputs": {"input": [-0.1, -800.0], "target": [1.0, 0.0]},
        "expected": {"loss": 0.05, "grad_input": [-0.5, 0.0]},
        "tolerance": {"rtol": 1e-12, "atol": 1e-12},
    },
    {
        "id": "kl_batchmean_1d_divides_by_numel",
        "loss": "kl_div",
        "category": "semantics",
        "kwargs": {"reduction": "batchmean", "log_target": False},
        "dtype": "float32",
        "inputs": {
            "input": [-1.6094379124341003, -1.2039728043259361, -0.6931471805599453],
            "target": [0.5, 0.25, 0.25],
        },
        "expected": {
            "loss": 0.07975940004849821,
            "grad_input": [-0.16666666666666666, -0.08333333333333333, -0.08333333333333333],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "kl_pointwise_terms_can_be_negative",
        "loss": "kl_div",
        "category": "semantics",
        "kwargs": {"reduction": "none", "log_target": False},
        "dtype": "float32",
        "inputs": {
            "input": [
                [-2.40760596444438, -1.4076059644443804, -0.4076059644443803],
                [-2.1429316284998996, -0.14293162849989952, -4.142931628499899],
            ],
            "target": [
                [0.09003057317038046, 0.24472847105479764, 0.6652409557748219],
                [0.09003057317038046, 0.24472847105479764, 0.6652409557748219],
            ],
        },
        "expected": {
            "loss": [
                [-6.882949527940438e-09, 1.4843049958847867e-08, -4.7446270855498684e-09],
                [-0.023828775652092054, -0.3095018186723521, 2.484891445233095],
            ],
            "grad_input": [
                [-0.09003057330846786, -0.2447284758090973, -0.6652409434318542],
                [-0.09003057330846786, -0.2447284758090973, -0.6652409434318542],
            ],
        },
        "tolerance": {"rtol": 1e-05, "atol": 2e-07},
    },
    {
        "id": "kl_empty_batchmean",
        "loss": "kl_div",
        "category": "empty",
        "kwargs": {"reduction": "batchmean", "log_target": False},
        "dtype": "float32",
        "inputs": {"input": {"shape": [0, 3]}, "target": {"shape": [0, 3]}},
        "expected": {"loss": NAN, "grad_input": {"shape": [0, 3]}},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "kl_masked_input_zero_target",
        "loss": "kl_div",
        "category": "nan_inf",
        "kwargs": {"reduction": "sum", "log_target": False},
        "dtype": "float32",
        "inputs": {
            "input": [-INF, -0.6931471805599453, -0.6931471805599453],
            "target": [0.0, 0.4, 0.6],
        },
        "expected": {
            "loss": 0.020135548274511576,
            "grad_input": [0.0, -0.4000000059604645, -0.6000000238418579],
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "mse_broadcast_semantics",
        "loss": "mse_loss",
        "category": "broadcasting",
        "kwargs": {"reduction": "mean"},
        "dtype": "float32",
        "inputs": {"input": [[0.5], [-1.0]], "target": [[[[0.0]]], [[[1.0]]], [[[2.0]]]]},
        "expected": {
            "loss": 2.7916666666666665,
            "grad_input": [[-0.5], [-2.0]],
            "warns": "UserWarning",
        },
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
    {
        "id": "hinge_negative_loss_for_positive_pairs",
        "loss": "hinge_embedding_loss",
        "category": "semantics",
        "kwargs": {"margin": 1.0, "reduction": "mean"},
        "dtype": "float32",
        "inputs": {"input": [-3.0, 0.25, 2.5, 0.5], "target": [1.0, 1.0, -1.0, -1.0]},
        "expected": {"loss": -0.5625, "grad_input": [0.25, 0.25, 0.0, -0.25]},
        "tolerance": {"rtol": 1e-05, "atol": 1e-06},
    },
]
