import { Component, type ReactNode } from 'react';

interface Props {
  /** What this part of the page is, for the message ("History"). */
  name: string;
  children: ReactNode;
}

/**
 * Keeps a failure in one part of the page in that part: it shows what failed and a way to try again, and the rest
 * of the app keeps working (React otherwise unmounts the whole root on an error thrown while rendering).
 */
export class ErrorBoundary extends Component<Props, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error) {
    console.error(`${this.props.name} failed:`, error);
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="error" role="alert">
        <p className="error-title">{this.props.name} could not be shown: {error.message}</p>
        <p>The rest of the page still works. This is a bug in this app; please report it.</p>
        <button type="button" className="link" onClick={() => this.setState({ error: null })}>Try again</button>
      </div>
    );
  }
}
