import { Counter, Registry } from 'prom-client';
import { metricOnce } from './metric-once';

const counter = (registers: Registry[]) => new Counter({ name: 'things_total', help: 'Things.', labelNames: ['kind'], registers });

describe('metricOnce', () => {
  it('When two owners ask for one name in one registry, then both get the same metric, registered once', async () => {
    const registry = new Registry();
    const first = metricOnce(registry, 'things_total', counter);
    const second = metricOnce(registry, 'things_total', counter);
    expect(second).toBe(first);
    first.inc({ kind: 'a' });
    second.inc({ kind: 'a' });
    expect((await registry.getSingleMetricAsString('things_total')).match(/^things_total\{.*\} (\d+)$/m)?.[1]).toBe('2');
  });

  it('When a second registry asks, then it gets a metric of its own', () => {
    expect(metricOnce(new Registry(), 'things_total', counter)).not.toBe(metricOnce(new Registry(), 'things_total', counter));
  });

  it('When there is no registry, then a metric is made each time, registered nowhere', () => {
    const registers: Registry[][] = [];
    metricOnce(undefined, 'things_total', (r) => registers.push(r));
    expect(registers).toEqual([[]]);
  });
});
