// Pipeline page: to be built.
import type { PageProps } from '../types';
import { PageHeader } from '../ui';

export function PipelinePage(_props: PageProps) {
  return <PageHeader title="Pipeline" />;
}
