const greeting: string = 'Hello, World!';

function greet(message: string): void {
  console.log(message);
}

greet(greeting);
