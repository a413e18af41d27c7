// Generations page: to be built.
import type { PageProps } from '../types';
import { PageHeader } from '../ui';

export function GenerationsPage(_props: PageProps) {
  return <PageHeader title="Generations" />;
}
