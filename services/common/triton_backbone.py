"""Backbone features from NVIDIA Triton, behind the in-process Backbone's surface.

goldenshot.features.FeatureExtractor uses a backbone's name, weights_sha256, taps, channels, strides and
`backbone(batch) -> [one NCHW map per tap]`. TritonBackbone provides exactly that from a model that
`goldenshot export --triton` wrote, reading the identity from the model card in its config, so a
fingerprint built in-process passes Fingerprint.check_extractor against Triton features and vice versa.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from goldenshot.export import DEFAULT_MODEL, INPUT, ModelCard, output_names
from services.core.errors import BackendUnavailable

T = TypeVar("T")
# gRPC codes that mean "no answer from that server" rather than "the server refused this request".
_UNREACHABLE = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED")

class TritonUnavailable(BackendUnavailable, ConnectionError):
    """Triton cannot be reached, did not answer within the timeout, or does not serve the model."""

    backend = "the feature backend (Triton)"


class TritonError(RuntimeError):
    """Triton answered with an error (bad request, model failure); the message is Triton's, on one line."""


class TritonBackbone:
    """The backbone served by Triton (gRPC): `backbone(x)` with x [B, 3, H, W] ImageNet-normalised float32."""

    def __init__(self, url: str, model: str = DEFAULT_MODEL, timeout_s: float = 10.0) -> None:
        """`url` is gRPC host:port (e.g. 127.0.0.1:8001). Reads the model card now: a server that is down or
        a model that is not a goldenshot export fails here, not at the first image."""
        self.url, self.model, self.timeout_s = url, model, timeout_s
        self._client = grpcclient.InferenceServerClient(url)
        if not self._call("ask about", lambda t: self._client.is_model_ready(model, client_timeout=t)):
            raise TritonUnavailable(f"Triton at {url} does not serve model {model!r} (not loaded or not ready)")
        config = self._call("read the config of", lambda t: self._client.get_model_config(model, as_json=True, client_timeout=t))["config"]
        self.card = ModelCard.from_parameters({k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()})
        self._outputs = output_names(len(self.card.taps))
        served = {o["name"]: int(o["dims"][0]) for o in config.get("output", [])}
        if served != dict(zip(self._outputs, self.card.channels)):
            raise ValueError(f"model {model!r} at {url}: outputs {served} do not match its card's taps and channels {self.card.channels}")
        self.name: str = self.card.backbone
        self.weights_sha256: str = self.card.weights_sha256
        self.taps: tuple[str, ...] = self.card.taps
        self.channels: tuple[int, ...] = self.card.channels
        self.strides: tuple[int, ...] = self.card.strides
        self.max_batch_size: int = max(int(config.get("max_batch_size", 0)), 1)

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[B, 3, H, W] -> one [B, C_i, ceil(H/s_i), ceil(W/s_i)] float32 map per tap, on x's device.

        Batches larger than the model's max_batch_size go as several requests."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] == 0:
            raise ValueError(f"expected a non-empty batch [B, 3, H, W], got {tuple(x.shape)}")
        parts = [self._infer(chunk) for chunk in x.split(self.max_batch_size)]
        return [torch.cat(maps).to(x.device) for maps in zip(*parts)]

    def close(self) -> None:
        """Close the gRPC channel."""
        self._client.close()

    def _infer(self, x: torch.Tensor) -> list[torch.Tensor]:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        request = grpcclient.InferInput(INPUT, list(array.shape), "FP32")
        request.set_data_from_numpy(array)
        wanted = [grpcclient.InferRequestedOutput(n) for n in self._outputs]
        result = self._call("run", lambda t: self._client.infer(self.model, [request], outputs=wanted, client_timeout=t))
        # as_numpy views the response bytes read-only; torch wants memory it may write.
        return [torch.from_numpy(result.as_numpy(n).copy()) for n in self._outputs]

    def _call(self, what: str, request: Callable[[float], T]) -> T:
        """One Triton call with the timeout; its failure becomes one line naming the server and the model."""
        try:
            return request(self.timeout_s)
        except InferenceServerException as e:
            detail = " ".join(str(e.message()).split())
            message = f"Triton at {self.url}: could not {what} model {self.model!r}: {detail}"
            if e.status() in _UNREACHABLE:
                raise TritonUnavailable(message) from None
            raise TritonError(message) from None
