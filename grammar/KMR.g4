// The grammar of .kmr policy files. Only compiler/syntax/parse_tree_to_ast.cpp sees the
// parser generated from it; everything else works on our own AST (compiler/ast/).
grammar KMR;

program : (importDecl | decl)* EOF ;

importDecl : 'import' stringLit ';' ;

decl
  : 'model' name=ID '=' expr ';'                                            # ModelDecl
  | 'data' name=ID '=' expr ';'                                             # DataDecl
  | 'knob' name=ID knobIndex? ':' typeRef domain? ('=' init=expr)? ';'      # KnobDecl
  | 'rule' name=ID '=' expr ('on' target=expr)? ';'                         # RuleDecl
  | 'native'? 'kernel' name=ID '(' params? ')' '->' typeRef (block | ';')   # KernelDecl
  | 'pipeline' name=ID '=' expr ';'                                         # PipelineDecl
  | 'meter' name=ID ':' typeRef '=' expr ';'                                # MeterDecl
  | 'budget' expr ';'                                                       # BudgetDecl
  | 'require' expr ';'                                                      # RequireDecl
  | 'objective' direction=('maximize' | 'minimize') expr ';'                # ObjectiveDecl
  | 'policy' name=ID '(' args? ')' ';'                                      # BuiltinPolicyDecl
  | 'policy' name=ID block                                                  # ScriptedPolicyDecl
  | 'save' expr 'to' stringLit ';'                                          # SaveDecl
  | 'report' 'to' stringLit ';'                                             # ReportDecl
  ;

knobIndex : '[' var=ID 'in' expr ']' ;

domain
  : 'in' '[' lo=expr ',' hi=expr ']' ('step' stepBy=expr)?                  # RangeDomain
  | 'in' '{' expr (',' expr)* ','? '}'                                      # SetDomain
  ;

typeRef : ID | 'model' | 'data' ;

params : param (',' param)* ;
param  : argName ':' typeRef ('=' expr)? ;

block : '{' stmt* '}' ;

stmt
  : 'let' name=ID '=' expr ';'                                              # LetStmt
  | 'set' name=ID '=' expr ';'                                              # SetStmt
  | 'step' name=ID 'by' expr ';'                                            # StepStmt
  | ifStmt                                                                  # IfStatement
  | 'while' expr block                                                      # WhileStmt
  | 'for' var=ID 'in' expr block                                            # ForStmt
  | 'accept' ';'                                                            # AcceptStmt
  | 'reject' ';'                                                            # RejectStmt
  | 'yield' expr ';'                                                        # YieldStmt
  | 'measure' name=ID '=' expr ';'                                          # MeasureStmt
  ;

ifStmt : 'if' expr block ('else' (elseIf=ifStmt | elseBlock=block))? ;

// Precedence from tightest to loosest; `^` is right-associative, `|>` loosest.
expr
  : expr '.' member=ID                                                      # MemberExpr
  | expr '(' args? ')'                                                      # CallExpr
  | expr '[' expr ']'                                                       # IndexExpr
  | <assoc = right> expr op='^' expr                                        # BinaryExpr
  | op=('-' | 'not') expr                                                   # UnaryExpr
  | expr op=('*' | '/') expr                                                # BinaryExpr
  | expr op=('+' | '-') expr                                                # BinaryExpr
  | expr op=('<' | '<=' | '>' | '>=' | '==' | '!=') expr                    # BinaryExpr
  | expr op='and' expr                                                      # BinaryExpr
  | expr op='or' expr                                                       # BinaryExpr
  | expr op='|>' expr                                                       # BinaryExpr
  | number unit=(ID | '%')?                                                 # NumberExpr
  | stringLit                                                               # StringExpr
  | value=('true' | 'false')                                                # BoolExpr
  | 'measure' '(' args? ')'                                                 # MeasureCallExpr
  | ID                                                                      # NameExpr
  | '[' (expr (',' expr)* ','?)? ']'                                        # ListExpr
  | '(' expr ')'                                                            # ParenExpr
  ;

args : arg (',' arg)* ','? ;
arg  : (argName '=')? expr ;
// Keywords are allowed as argument names: `distill(..., data = train)`, `bisect(knob = k)`,
// `select(c, then = a, else = b)`.
argName : ID | 'data' | 'model' | 'knob' | 'step' | 'in' | 'to' | 'on' | 'by' | 'else' ;

number    : INT | FLOAT ;
stringLit : STRING | UNTERMINATED_STRING ;

ID    : [a-zA-Z_] [a-zA-Z_0-9]* ;
INT   : [0-9]+ ;
FLOAT : [0-9]+ '.' [0-9]+ ([eE] [+-]? [0-9]+)? | [0-9]+ [eE] [+-]? [0-9]+ ;
STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
// Matched so that the front end can say "unterminated string" at the opening quote.
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* '\\'? ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
// A comment without its closing `*/` runs to the end of the file; the front end reports it.
BLOCK_COMMENT : '/*' .*? ('*/' | EOF) -> channel(HIDDEN) ;
WS            : [ \t\r\n\f]+ -> skip ;
// Any other character: reported by the front end, hidden from the parser.
BAD_CHAR      : . -> channel(HIDDEN) ;
