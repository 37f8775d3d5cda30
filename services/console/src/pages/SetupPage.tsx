import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, api, NAME_PATTERN } from '../api/client';
import { keys } from '../api/queries';
import { useProductList } from '../App';
import { ErrorBanner } from '../components/ErrorBanner';
import { plural } from '../format';
import { paths } from '../paths';
import { ProductSetup } from './setup/ProductSetup';

export function SetupPage() {
  const products = useProductList();
  const { product: name, version } = useParams();
  return (
    <div className="setup-layout">
      <aside className="card product-list" aria-label="Products">
        <div className="card-head">
          <h2>Products</h2>
          <Link className="btn btn-small" to={paths.setup()}>
            New product
          </Link>
        </div>
        {products.length === 0 ? (
          <p className="muted">No products yet. Create the first one.</p>
        ) : (
          <ul>
            {products.map((p) => (
              <li key={p.name}>
                <Link to={paths.setup(p.name)} className={p.name === name ? 'active' : undefined}>
                  <span className="product-name">{p.name}</span>
                  <span className="muted small">
                    {p.active_version !== null ? `v${p.active_version}` : 'no fingerprint'} · {plural(p.golden_count, 'sample')}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </aside>
      <div className="setup-main">
        {name ? <ProductSetup key={name} name={name} version={version ? Number(version) : null} /> : <CreateProduct />}
      </div>
    </div>
  );
}

const BAD_NAME = 'The name must start with a lowercase letter or digit and use only a-z, 0-9 and "-" (at most 63 characters).';

function CreateProduct() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [invalid, setInvalid] = useState(false);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: () => api.createProduct(name, description.trim()),
    onSuccess: async (p) => {
      await queryClient.invalidateQueries({ queryKey: keys.products });
      navigate(paths.setup(p.name));
    },
  });
  const nameOk = NAME_PATTERN.test(name);
  const taken = create.error instanceof ApiError && create.error.code === 'conflict';
  const error = invalid
    ? new Error(BAD_NAME)
    : taken
      ? new Error(`A product named "${name}" already exists. Choose another name or open it from the list.`)
      : create.error;

  return (
    <form
      className="card"
      aria-label="Create a product"
      onSubmit={(e) => {
        e.preventDefault();
        setInvalid(!nameOk);
        if (nameOk) create.mutate();
      }}
    >
      <h2>Create a product</h2>
      <p className="muted">
        A product is one kind of part. Give it a short name, then upload photos of good parts (golden samples; a handful
        is often enough) and generate its fingerprint.
      </p>
      <label className="field">
        Name
        <input
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value.toLowerCase())}
          placeholder="e.g. magnetic-tile"
          aria-invalid={name !== '' && !nameOk}
          required
          maxLength={63}
        />
        <span className={`small ${name !== '' && !nameOk ? 'error-text' : 'muted'}`}>
          lowercase letters, digits and "-", starting with a letter or digit
        </span>
      </label>
      <label className="field">
        Description
        <textarea
          name="description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          rows={2}
          placeholder="What the part is, which line or camera"
        />
      </label>
      <ErrorBanner
        error={error}
        onDismiss={() => {
          setInvalid(false);
          create.reset();
        }}
      />
      <button type="submit" className="btn btn-primary" disabled={create.isPending || name === ''}>
        {create.isPending ? 'Creating…' : 'Create product'}
      </button>
    </form>
  );
}
