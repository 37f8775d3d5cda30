import { useRef, useState } from 'react';

const IMAGE_EXT = /\.(jpe?g|png|bmp|tiff?|webp|gif)$/i;

export function isImageFile(f: File): boolean {
  return f.type.startsWith('image/') || IMAGE_EXT.test(f.name);
}

interface Props {
  onFiles: (files: File[]) => void;
  /** Called with the names of dropped files that are not images (they are left out). */
  onRejected?: (names: string[]) => void;
  multiple?: boolean;
  disabled?: boolean;
  label: string;
  hint?: string;
  testId?: string;
}

/** Drop images on it, or click (or press Enter) to pick them. Only image files get through. */
export function Dropzone({ onFiles, onRejected, multiple = true, disabled, label, hint, testId }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);

  const take = (list: FileList | null) => {
    if (!list || disabled) return;
    const all = Array.from(list);
    const ok = all.filter(isImageFile);
    const bad = all.filter((f) => !isImageFile(f)).map((f) => f.name);
    if (bad.length && onRejected) onRejected(bad);
    if (ok.length) onFiles(multiple ? ok : ok.slice(0, 1));
  };

  return (
    <div
      className={`dropzone${over ? ' dropzone-over' : ''}${disabled ? ' dropzone-disabled' : ''}`}
      role="button"
      tabIndex={disabled ? -1 : 0}
      aria-disabled={disabled || undefined}
      aria-label={label}
      data-testid={testId}
      onClick={() => !disabled && input.current?.click()}
      onKeyDown={(e) => {
        if (!disabled && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          input.current?.click();
        }
      }}
      onDragOver={(e) => {
        e.preventDefault();
        if (!disabled) setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        take(e.dataTransfer.files);
      }}
    >
      <div className="dropzone-label">{label}</div>
      {hint && <div className="dropzone-hint">{hint}</div>}
      <input
        ref={input}
        type="file"
        accept="image/*,.bmp,.tif,.tiff"
        multiple={multiple}
        hidden
        data-testid={testId ? `${testId}-input` : undefined}
        onChange={(e) => {
          take(e.target.files);
          e.target.value = '';
        }}
      />
    </div>
  );
}
