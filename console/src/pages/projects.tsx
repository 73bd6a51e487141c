import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { formatDateTime } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Project } from '../types.js';
import { Button, Card, Empty, ErrorNotice, Field, Loading, useTitle } from '../ui/components.js';

/** Every project on this SMX, and a form to create one. */
export function ProjectsPage() {
  useTitle('Projects');
  const projects = useLoad(() => get<{ projects: Project[] }>('/admin/projects'), []);
  const list = projects.data?.projects;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Projects</h1>
        <p class="muted">A project is one app or tenant: its own phones, API keys, messages and settings.</p>
      </div>
      <ErrorNotice error={projects.error} />
      <CreateProject first={list !== undefined && list.length === 0} />
      {projects.loading && !list ? <Loading /> : null}
      {list && list.length > 0 ? (
        <Card title={`${list.length} project${list.length === 1 ? '' : 's'}`}>
          <ul class="project-list">
            {list.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} class="project-link">
                  <span class="project-name">{p.name}</span>
                  <span class="muted small mono">{p.id}</span>
                  <span class="muted small">created {formatDateTime(p.createdAt)}</span>
                </a>
              </li>
            ))}
          </ul>
        </Card>
      ) : null}
      {list && list.length === 0 ? <Empty>No projects yet.</Empty> : null}
    </div>
  );
}

function CreateProject({ first }: { first: boolean }) {
  const [name, setName] = useState('');
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const project = await action.run(() => post<Project>('/admin/projects', { name: name.trim() }));
    if (project) navigate(href(project.id));
  };
  return (
    <Card title={first ? 'Create your first project' : 'New project'} class={first ? 'card-highlight' : undefined}>
      {first ? <p>Start here: create a project, then link a phone to it and send a first OTP.</p> : null}
      <form class="inline-form" onSubmit={submit} noValidate>
        <Field
          label="Project name"
          error={
            action.error?.about('name') ??
            (action.error && action.error.code !== 'VALIDATION_FAILED' ? action.error.message : undefined)
          }
          id="name"
        >
          <input
            name="project-name"
            value={name}
            maxLength={200}
            placeholder="My app"
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Button variant="primary" type="submit" busy={action.busy}>
          Create project
        </Button>
      </form>
    </Card>
  );
}
