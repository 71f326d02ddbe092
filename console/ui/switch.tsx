/** An on/off control that says what it turns on and off (a checkbox with the switch role). */
export function Switch(props: {
  checked: boolean
  label: string
  disabled?: boolean
  onChange(on: boolean): void
}) {
  return (
    <label class="switch">
      <input
        type="checkbox"
        role="switch"
        aria-checked={props.checked}
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <span>{props.label}</span>
    </label>
  )
}
