import { useEffect, useState } from 'react';
import { fetchBlob, getApiKey } from '../api/client';

/**
 * The URL an <img> can show for an API image path. Without an API key the path itself (the
 * browser caches it); with a key, <img> cannot send X-API-Key, so the bytes are fetched with
 * the header and shown from an object URL.
 */
export function useImageSrc(url: string | null | undefined): { src: string | null; failed: boolean } {
  const key = getApiKey();
  const [state, setState] = useState<{ src: string | null; failed: boolean }>({
    src: url && !key ? url : null,
    failed: false,
  });
  useEffect(() => {
    if (!url) {
      setState({ src: null, failed: false });
      return;
    }
    if (!key) {
      setState({ src: url, failed: false });
      return;
    }
    const ctrl = new AbortController();
    let objectUrl: string | null = null;
    setState({ src: null, failed: false });
    fetchBlob(url, ctrl.signal)
      .then((blob) => {
        objectUrl = URL.createObjectURL(blob);
        setState({ src: objectUrl, failed: false });
      })
      .catch(() => {
        if (!ctrl.signal.aborted) setState({ src: null, failed: true });
      });
    return () => {
      ctrl.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url, key]);
  return state;
}

type ImgProps = Omit<React.ImgHTMLAttributes<HTMLImageElement>, 'src'> & { src: string | null | undefined };

export function AuthImage({ src, alt, className, ...rest }: ImgProps) {
  const { src: shown, failed } = useImageSrc(src);
  const [broken, setBroken] = useState(false);
  useEffect(() => setBroken(false), [shown]);
  if (failed || broken) {
    return (
      <div className={`img-missing ${className ?? ''}`} role="img" aria-label={`${alt ?? 'image'} (unavailable)`}>
        image unavailable
      </div>
    );
  }
  if (!shown) return <div className={`img-loading ${className ?? ''}`} aria-busy="true" />;
  return <img src={shown} alt={alt} className={className} onError={() => setBroken(true)} {...rest} />;
}
