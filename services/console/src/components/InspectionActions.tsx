import * as Menu from '@radix-ui/react-dropdown-menu';
import { useState } from 'react';
import { errorText } from '../api/client';
import type { Inspection } from '../api/types';
import { download } from '../download';
import { paths } from '../paths';

/** A result taken out of the console: its link for a report, its overlay picture. */
export function InspectionActions({ inspection: ins }: { inspection: Inspection }) {
  const [said, setSaid] = useState<string | null>(null);
  const link = `${window.location.origin}${paths.inspect(ins.product, ins.id)}`;
  const overlayName = `${ins.filename.replace(/\.[^.]+$/, '')}-overlay.png`;
  return (
    <div className="row">
      {said && (
        <span className="muted small" role="status">
          {said}
        </span>
      )}
      {/* not modal: the page stays as it is for assistive technology while the menu is open */}
      <Menu.Root modal={false}>
        <Menu.Trigger className="btn btn-small">Share</Menu.Trigger>
        <Menu.Portal>
          <Menu.Content className="menu" align="end" sideOffset={4}>
            <Menu.Item
              className="menu-item"
              onSelect={() => navigator.clipboard.writeText(link).then(() => setSaid('Link copied.'), () => setSaid(`Link: ${link}`))}
            >
              Copy link
            </Menu.Item>
            <Menu.Item
              className="menu-item"
              onSelect={() => download(ins.overlay_url, overlayName).then(() => setSaid(null), (e) => setSaid(errorText(e)))}
            >
              Download overlay image
            </Menu.Item>
          </Menu.Content>
        </Menu.Portal>
      </Menu.Root>
    </div>
  );
}
