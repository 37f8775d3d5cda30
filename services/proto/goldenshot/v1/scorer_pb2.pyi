from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InspectRequest(_message.Message):
    __slots__ = ("product", "image", "filename")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    product: str
    image: bytes
    filename: str
    def __init__(self, product: _Optional[str] = ..., image: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ...) -> None: ...

class Region(_message.Message):
    __slots__ = ("x", "y", "width", "height", "area", "peak_score", "mean_score", "polygon", "nearest_golden")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    AREA_FIELD_NUMBER: _ClassVar[int]
    PEAK_SCORE_FIELD_NUMBER: _ClassVar[int]
    MEAN_SCORE_FIELD_NUMBER: _ClassVar[int]
    POLYGON_FIELD_NUMBER: _ClassVar[int]
    NEAREST_GOLDEN_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    area: int
    peak_score: float
    mean_score: float
    polygon: _containers.RepeatedCompositeFieldContainer[Point]
    nearest_golden: NearestGolden
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., area: _Optional[int] = ..., peak_score: _Optional[float] = ..., mean_score: _Optional[float] = ..., polygon: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., nearest_golden: _Optional[_Union[NearestGolden, _Mapping]] = ...) -> None: ...

class NearestGolden(_message.Message):
    __slots__ = ("golden_id", "sample", "name", "view", "row", "col", "grid_h", "grid_w", "distance")
    GOLDEN_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COL_FIELD_NUMBER: _ClassVar[int]
    GRID_H_FIELD_NUMBER: _ClassVar[int]
    GRID_W_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    golden_id: str
    sample: int
    name: str
    view: int
    row: int
    col: int
    grid_h: int
    grid_w: int
    distance: float
    def __init__(self, golden_id: _Optional[str] = ..., sample: _Optional[int] = ..., name: _Optional[str] = ..., view: _Optional[int] = ..., row: _Optional[int] = ..., col: _Optional[int] = ..., grid_h: _Optional[int] = ..., grid_w: _Optional[int] = ..., distance: _Optional[float] = ...) -> None: ...

class Inspection(_message.Message):
    __slots__ = ("id", "product", "version", "decision", "score", "threshold", "regions", "width", "height", "created_at", "timings_ms")
    class TimingsMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    product: str
    version: int
    decision: str
    score: float
    threshold: float
    regions: _containers.RepeatedCompositeFieldContainer[Region]
    width: int
    height: int
    created_at: str
    timings_ms: _containers.ScalarMap[str, float]
    def __init__(self, id: _Optional[str] = ..., product: _Optional[str] = ..., version: _Optional[int] = ..., decision: _Optional[str] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., regions: _Optional[_Iterable[_Union[Region, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., created_at: _Optional[str] = ..., timings_ms: _Optional[_Mapping[str, float]] = ...) -> None: ...

class GetFingerprintRequest(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: str
    def __init__(self, product: _Optional[str] = ...) -> None: ...

class Fingerprint(_message.Message):
    __slots__ = ("product", "version", "threshold", "pixel_threshold", "coreset_rows", "sha256", "created_at")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PIXEL_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CORESET_ROWS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    product: str
    version: int
    threshold: float
    pixel_threshold: float
    coreset_rows: int
    sha256: str
    created_at: str
    def __init__(self, product: _Optional[str] = ..., version: _Optional[int] = ..., threshold: _Optional[float] = ..., pixel_threshold: _Optional[float] = ..., coreset_rows: _Optional[int] = ..., sha256: _Optional[str] = ..., created_at: _Optional[str] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...
