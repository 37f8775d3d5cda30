import { useState } from 'react';
import { AuthImage } from '../../components/AuthImage';
import { type Box, cropStyle } from './explain';

interface Props {
  src: string;
  box: Box;
  alt: string;
  /** The picture's size in pixels, where known; otherwise read from the picture once it has loaded. */
  size?: { width: number; height: number };
}

/** Only `box` of a picture (a CSS crop: the frame has the box's shape and hides the rest). */
export function Crop({ src, box, alt, size }: Props) {
  const [natural, setNatural] = useState(size ?? null);
  return (
    <div className="crop" style={{ aspectRatio: `${Math.max(box[2], 1)} / ${Math.max(box[3], 1)}` }}>
      <AuthImage
        src={src}
        alt={alt}
        style={natural ? cropStyle(box, natural.width, natural.height) : { opacity: 0 }}
        onLoad={natural ? undefined : (e) => setNatural({ width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
      />
    </div>
  );
}
