// Training page: to be built.
import type { PageProps } from '../types';
import { PageHeader } from '../ui';

export function TrainingPage(_props: PageProps) {
  return <PageHeader title="Training" />;
}
