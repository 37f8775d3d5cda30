import type { Product } from '../api/types';

interface Props {
  products: Product[];
  value: string | null;
  onChange: (name: string) => void;
  /** Mark products without an active fingerprint (they cannot inspect yet). */
  needFingerprint?: boolean;
}

export function ProductPicker({ products, value, onChange, needFingerprint }: Props) {
  return (
    <label className="picker">
      Product
      <select
        value={value ?? ''}
        onChange={(e) => e.target.value && onChange(e.target.value)}
        aria-label="Product"
        data-testid="product-picker"
      >
        <option value="" disabled>
          {products.length ? 'Choose a product…' : 'No products yet'}
        </option>
        {products.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}
            {needFingerprint && p.active_version === null ? ' (no fingerprint yet)' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
