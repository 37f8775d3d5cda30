import * as Dialog from '@radix-ui/react-dialog';
import { useState } from 'react';

interface Props {
  /** The button's text, and the confirming button's in the dialog. */
  label: string;
  /** The button's accessible name, where several buttons on a page share one label. */
  name?: string;
  /** The question the dialog asks. */
  title: string;
  /** What will happen. */
  children: React.ReactNode;
  onConfirm: () => void;
  disabled?: boolean;
}

/** A button that asks first, in a modal dialog (focus kept inside, Escape or Cancel to back out). */
export function ConfirmButton({ label, name, title, children, onConfirm, disabled }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger className="btn btn-small" disabled={disabled} aria-label={name}>
        {label}
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>{title}</Dialog.Title>
          <Dialog.Description>{children}</Dialog.Description>
          <div className="row">
            <Dialog.Close className="btn">Cancel</Dialog.Close>
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => {
                setOpen(false);
                onConfirm();
              }}
            >
              {label}
            </button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
