# SPDX-License-Identifier: Apache-2.0
"""Triton kernels of the fused losses. Importing this package defines the ops
``torch.ops.losses_ext.triton_<name>`` (same schemas as the C++ ops); it needs triton."""
