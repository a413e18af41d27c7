// Chat page: to be built.
import type { PageProps } from '../types';
import { PageHeader } from '../ui';

export function ChatPage(_props: PageProps) {
  return <PageHeader title="Chat" />;
}
