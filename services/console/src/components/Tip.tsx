import * as Tooltip from '@radix-ui/react-tooltip';

/** A short hint for an icon-only control, on hover and on keyboard focus (needs Tooltip.Provider above). */
export function Tip({ text, children }: { text: string; children: React.ReactElement }) {
  return (
    <Tooltip.Root>
      <Tooltip.Trigger asChild>{children}</Tooltip.Trigger>
      <Tooltip.Portal>
        <Tooltip.Content className="tooltip" sideOffset={4}>
          {text}
        </Tooltip.Content>
      </Tooltip.Portal>
    </Tooltip.Root>
  );
}
