import { get, seg } from '../api.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { Project } from '../types.js';
import { ErrorNotice, Loading } from '../ui/components.js';
import { DevicesPage } from './devices.js';
import { InboxPage } from './inbox.js';
import { KeysPage } from './keys.js';
import { MessageDetail } from './message-detail.js';
import { MessagesPage } from './messages.js';
import { OverviewPage } from './overview.js';
import { SettingsPage } from './settings.js';
import { StatsPage } from './stats.js';
import { TryItPage } from './try-it.js';
import { VerificationDetail } from './verification-detail.js';
import { WebhooksPage } from './webhooks.js';

const TABS: Array<[tab: string, label: string]> = [
  ['overview', 'Start'],
  ['devices', 'Devices'],
  ['try', 'Try it'],
  ['messages', 'Messages'],
  ['stats', 'Stats'],
  ['inbox', 'Inbox'],
  ['webhooks', 'Webhooks'],
  ['keys', 'API keys'],
  ['settings', 'Settings'],
];

/** A project's header and tabs around the view the route names. */
export function ProjectShell({ projectId, tab, itemId }: { projectId: string; tab: string; itemId?: string }) {
  const project = useLoad(() => get<Project>(`/admin/projects/${seg(projectId)}`), [projectId]);
  if (project.error)
    return (
      <div class="page">
        <ErrorNotice error={project.error} title="This project cannot be shown" />
        <p>
          <a href="#/">Back to projects</a>
        </p>
      </div>
    );
  if (!project.data)
    return (
      <div class="page">
        <Loading />
      </div>
    );
  const p = project.data;
  const current = tab === 'verifications' ? 'messages' : tab;
  return (
    <div class="page">
      <div class="project-head">
        <a href="#/" class="muted small">
          Projects
        </a>
        <h1 data-testid="project-name">{p.name}</h1>
        <span class="muted small mono">{p.id}</span>
      </div>
      <nav class="tabs" aria-label="Project">
        {TABS.map(([name, label]) => (
          <a
            key={name}
            href={href(p.id, name)}
            class={current === name ? 'tab tab-current' : 'tab'}
            aria-current={current === name ? 'page' : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
      <View project={p} tab={tab} itemId={itemId} onProjectChange={() => void project.reload()} />
    </div>
  );
}

function View({
  project,
  tab,
  itemId,
  onProjectChange,
}: {
  project: Project;
  tab: string;
  itemId?: string;
  onProjectChange: () => void;
}) {
  switch (tab) {
    case 'devices':
      return <DevicesPage project={project} />;
    case 'try':
      return <TryItPage project={project} />;
    case 'messages':
      return itemId ? <MessageDetail project={project} messageId={itemId} /> : <MessagesPage project={project} />;
    case 'verifications':
      return itemId ? (
        <VerificationDetail project={project} verificationId={itemId} />
      ) : (
        <MessagesPage project={project} />
      );
    case 'stats':
      return <StatsPage project={project} />;
    case 'inbox':
      return <InboxPage project={project} />;
    case 'webhooks':
      return <WebhooksPage project={project} />;
    case 'keys':
      return <KeysPage project={project} />;
    case 'settings':
      return <SettingsPage project={project} onChange={onProjectChange} />;
    default:
      return <OverviewPage project={project} />;
  }
}
