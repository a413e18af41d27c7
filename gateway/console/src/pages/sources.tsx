// Sources page: to be built.
import type { PageProps } from '../types';
import { PageHeader } from '../ui';

export function SourcesPage(_props: PageProps) {
  return <PageHeader title="Sources & documents" />;
}
