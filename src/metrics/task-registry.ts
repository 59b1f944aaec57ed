import { AlreadyCollectedError } from '../errors.ts';
import { taskKey, type Task, type TaskEnd } from './task.ts';

/** The live tasks, keyed by (namespace, id): at most one incarnation of each. */
export class TaskRegistry {
  private readonly tasks = new Map<string, Task>();

  get size(): number {
    return this.tasks.size;
  }

  has(namespace: string, id: string): boolean {
    return this.tasks.has(taskKey(namespace, id));
  }

  /** Registers the task `create()` makes; throws AlreadyCollectedError, before calling it, when the id is taken. */
  add(namespace: string, id: string, create: () => Task): Task {
    const key = taskKey(namespace, id);
    if (this.tasks.has(key)) throw new AlreadyCollectedError(namespace, id);
    const task = create();
    this.tasks.set(key, task);
    return task;
  }

  get(namespace: string, id: string): Task | undefined {
    return this.tasks.get(taskKey(namespace, id));
  }

  /**
   * Unregisters the task registered under (namespace, id) and ends it (`stopped` or `removed`):
   * a task is live exactly while it is registered. Undefined when none is registered.
   */
  end(namespace: string, id: string, as: TaskEnd): Task | undefined {
    const task = this.get(namespace, id);
    if (task) this.endTask(task, as);
    return task;
  }

  /** end() for this incarnation only; false when its key is free or holds another incarnation. */
  endTask(task: Task, as: TaskEnd): boolean {
    if (this.tasks.get(task.key) !== task) return false;
    this.tasks.delete(task.key);
    task.end(as);
    return true;
  }

  /** The registered tasks, in registration order: a copy, safe to keep across awaits. */
  list(): Task[] {
    return [...this.tasks.values()];
  }
}
