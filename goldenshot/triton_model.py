"""Triton Python-backend model: the exported backbone ONNX on onnxruntime's CPU provider.

Never imported by goldenshot: `goldenshot export --device cpu` copies this file to <model>/1/model.py
beside model.onnx, and Triton's Python backend runs it. It serves the tritonserver inside PyPI
`nvidia-pytriton`, whose only CPU backend is Python. Self-contained on purpose: the server's Python
needs numpy and onnxruntime, not goldenshot.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Same inputs, outputs and parameters as the onnxruntime (GPU) flavour of the model."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        # The card's onnx_sha256 is what clients trust; refuse to serve a file that is not that one.
        expected = config["parameters"]["onnx_sha256"]["string_value"]
        with open(path, "rb") as f:
            actual = hashlib.file_digest(f, "sha256").hexdigest()
        if actual != expected:
            raise pb_utils.TritonModelException(f"{path}: sha256 {actual[:12]} is not the config's onnx_sha256 {expected[:12]}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(config["parameters"]["cpu_threads"]["string_value"])  # 0: onnxruntime's default
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = config["input"][0]["name"]
        self.outputs = [o["name"] for o in config["output"]]

    def execute(self, requests: list) -> list:
        # Tensors cross the stub by DLPack: the stub's pybind11 predates numpy 2, and under numpy 2
        # Tensor.as_numpy() reads zeros and pb_utils.Tensor(name, ndarray) sends empty outputs.
        responses = []
        for request in requests:
            batch = np.from_dlpack(pb_utils.get_input_tensor_by_name(request, self.input))
            try:
                maps = self.session.run(self.outputs, {self.input: batch})
            except Exception as e:  # onnxruntime raises its own types; the client gets the message
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"backbone failed on {batch.shape}: {e}")))
                continue
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor.from_dlpack(n, m) for n, m in zip(self.outputs, maps)]))
        return responses
