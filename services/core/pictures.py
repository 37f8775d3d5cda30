"""Heatmap and overlay PNGs of a stored inspection, drawn on first request and then kept."""

from __future__ import annotations

from safetensors.torch import load

from goldenshot.images import decode_image
from goldenshot.maps import resize_map
from goldenshot.overlay import pictures
from goldenshot.regions import Region
from services.common.admission import DecodeBudget, header_pixels
from services.common.objects import ObjectNotFound, ObjectStore
from services.core.models import Inspection


def picture(objects: ObjectStore, inspection: Inspection, kind: str, max_pixels: int, budget: DecodeBudget, tenant: str) -> bytes:
    """'heatmap' or 'overlay' PNG of an inspection, at the image's size; drawing counts against the
    decode budget like any decode (the image and a map of its size are in memory meanwhile)."""
    prefix = inspection.image_key.rsplit("/", 1)[0]
    try:
        return objects.get(f"{prefix}/{kind}.png")
    except ObjectNotFound:
        pass
    data = objects.get(inspection.image_key)
    with budget.hold(header_pixels(data), tenant):
        image = decode_image(data, inspection.filename, max_pixels)
        working = load(objects.get(inspection.map_key))["map"].float().numpy()
        score_map = resize_map(working, image.shape[0], image.shape[1])
        regions = [Region.from_dict(r.model_dump()) for r in inspection.regions]
        heatmap, overlay = pictures(image, score_map, regions, inspection.pixel_threshold)
        del image, score_map
    objects.put(f"{prefix}/heatmap.png", heatmap)
    objects.put(f"{prefix}/overlay.png", overlay)
    return heatmap if kind == "heatmap" else overlay
