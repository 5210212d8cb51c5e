"""The SOQL grammar (Lark, LALR). Kept in a module so it ships with any install."""

GRAMMAR = r"""
// The SOQL subset the sandbox understands. Keywords are case-insensitive.
// AND and OR may not be mixed without parentheses, as in Salesforce.

start: "SELECT"i select_list "FROM"i NAME where_clause? order_clause? limit_clause? offset_clause?

select_list: count_expr
           | field ("," field)*
count_expr: "COUNT"i "(" ")"
field: NAME ("." NAME)*

where_clause: "WHERE"i condition
?condition: unary
          | and_cond
          | or_cond
and_cond: unary ("AND"i unary)+
or_cond: unary ("OR"i unary)+
?unary: "NOT"i unary          -> not_cond
      | "(" condition ")"
      | comparison
?comparison: field COMP_OP value         -> compare
           | field "LIKE"i STRING         -> like
           | field "IN"i value_list       -> in_list
           | field "NOT"i "IN"i value_list -> not_in_list
value_list: "(" value ("," value)* ")"
?value: STRING        -> string
      | NUMBER        -> number
      | DATETIME      -> datetime
      | DATE          -> date
      | DATE_LITERAL  -> date_literal
      | "NULL"i       -> null
      | "TRUE"i       -> true
      | "FALSE"i      -> false

order_clause: "ORDER"i "BY"i order_item ("," order_item)*
order_item: field direction? nulls?
direction: "ASC"i  -> asc
         | "DESC"i -> desc
nulls: "NULLS"i "FIRST"i -> nulls_first
     | "NULLS"i "LAST"i  -> nulls_last
limit_clause: "LIMIT"i INT
offset_clause: "OFFSET"i INT

COMP_OP: "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^'\\]|\\.)*'/
DATETIME.4: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.3: /\d{4}-\d{2}-\d{2}/
DATE_LITERAL.3: /(TODAY|YESTERDAY|TOMORROW)(?![A-Za-z0-9_])|(LAST_N_DAYS|NEXT_N_DAYS):\d+/i
NUMBER.2: /[+-]?\d+(\.\d+)?/
INT: /\d+/
%ignore /\s+/
"""
