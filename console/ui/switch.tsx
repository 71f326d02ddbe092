/**
 * An on/off control (a checkbox with the switch role). `label` is what it shows beside it; in a list,
 * `name` says which thing it switches ("new-checkout enabled"), since "on" alone says nothing.
 */
export function Switch(props: {
  checked: boolean
  label: string
  name?: string
  disabled?: boolean
  onChange(on: boolean): void
}) {
  return (
    <label class="switch">
      <input
        type="checkbox"
        role="switch"
        aria-checked={props.checked}
        aria-label={props.name}
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <span aria-hidden={props.name === undefined ? undefined : true}>{props.label}</span>
    </label>
  )
}
