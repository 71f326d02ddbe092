/** Properties as a two-column table: the sender's own first, then PostHog's `$…` ones, each by name. */
export function PropertiesTable(props: { properties: Record<string, unknown>; label: string }) {
  const names = Object.keys(props.properties).sort(
    (a, b) => Number(a.startsWith('$')) - Number(b.startsWith('$')) || a.localeCompare(b),
  )
  if (names.length === 0) return <p class="muted">No properties.</p>
  return (
    <div class="table-scroll">
      <table class="properties">
        <caption class="visually-hidden">{props.label}</caption>
        <thead>
          <tr>
            <th scope="col">Property</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {names.map((name) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>
                <ValueText value={props.properties[name]} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function ValueText(props: { value: unknown }) {
  if (typeof props.value === 'string') return <span class="value">{props.value}</span>
  return <code class="value">{JSON.stringify(props.value)}</code>
}
