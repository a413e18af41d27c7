// The alerts raised on llmtwin.alerts.v1 (the router's latency and error-rate rules, ingest's failing
// sources), newest first. PipelineService.ListAlerts is for admin keys only, so the page shows this to them.
import { api } from '../../api';
import { ErrorNote, Loading, Section, formatTime, useLoad } from '../../ui';
import { formatAlertValue, formatAlertWindow } from './format';

export function AlertsSection() {
  const alerts = useLoad((signal) => api.pipeline.listAlerts({ limit: 100 }, { signal }), [], 30_000);
  const list = alerts.data?.alerts;
  return (
    <Section title="Alerts that fired" id="alerts">
      <p class="muted">
        Raised by the inference router when the p95 latency or the error rate of recent generations crosses
        its threshold (and again when it recovers), and by ingest when a source keeps failing. Newest first.
      </p>
      <ErrorNote error={alerts.error} />
      {list === undefined ? (
        alerts.error ? null : (
          <Loading what="alerts" />
        )
      ) : list.length === 0 ? (
        <p>No alert has fired.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Alerts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Rule</th>
                <th scope="col">State</th>
                <th scope="col">Model</th>
                <th scope="col">Value / threshold</th>
                <th scope="col">Window</th>
                <th scope="col">Source</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.eventId}>
                  <td class="cell-time">{formatTime(a.eventTime)}</td>
                  <td>
                    <code>{a.rule}</code>
                  </td>
                  <td>
                    {a.resolved ? (
                      <span class="badge ok">resolved</span>
                    ) : (
                      <span class="badge error-badge">firing</span>
                    )}
                  </td>
                  <td class="cell-id">{a.model || <span class="muted">all models</span>}</td>
                  <td class="nowrap">
                    {formatAlertValue(a.rule, a.value)} / {formatAlertValue(a.rule, a.threshold)}
                  </td>
                  <td>{formatAlertWindow(a.rule, a.windowSize)}</td>
                  <td class="cell-id">{a.source || '—'}</td>
                  <td class="cell-wide">{a.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
