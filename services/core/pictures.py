"""Heatmap and overlay PNGs of a stored inspection, drawn on first request and then kept."""

from __future__ import annotations

from safetensors.torch import load

from goldenshot.images import decode_near
from goldenshot.maps import display_size, resize_map
from goldenshot.overlay import pictures
from goldenshot.regions import Region
from goldenshot.settings import MapSettings
from services.common.admission import DecodeBudget, header_pixels
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.models import Inspection


def picture(
    objects: ObjectStore, inspection: Inspection, kind: str, max_pixels: int, budget: DecodeBudget, tenant: str, max_side: int = MapSettings().max_side
) -> bytes:
    """'heatmap' or 'overlay' PNG of an inspection, at the image's size up to `max_side` (the photo decoded
    near it); drawing counts against the decode budget like any decode (the image and a map are in memory meanwhile)."""
    prefix = inspection.image_key.rsplit("/", 1)[0]
    try:
        return objects.get(f"{prefix}/{kind}.png")
    except ObjectNotFound:
        pass
    data = objects.get(inspection.image_key)
    with budget.hold(header_pixels(data), tenant):
        shown = display_size(inspection.height, inspection.width, max_side)
        image = decode_near(data, inspection.filename, max_pixels, lambda h, w: (shown[0] // 2, shown[1] // 2)).image
        working = load(objects.get(inspection.map_key))["map"].float().numpy()
        score_map = resize_map(working, *shown)
        regions = [Region.from_dict(r.model_dump()) for r in inspection.regions]
        heatmap, overlay = pictures(image, score_map, regions, inspection.pixel_threshold, (inspection.height, inspection.width))
        del image, score_map
    objects.put(f"{prefix}/heatmap.png", heatmap)
    objects.put(f"{prefix}/overlay.png", overlay)
    return heatmap if kind == "heatmap" else overlay
